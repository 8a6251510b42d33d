/**
 * Test support: the fake Grok server (subpath `grok-resilience/testing`, Node only).
 *
 * @since 0.1.0
 */

/**
 * A real HTTP server on 127.0.0.1 that answers like xAI, with scripted answers, quotas and faults.
 *
 * @since 0.1.0
 * @category testing
 */
export * as FakeGrok from "./FakeGrok.js"
