/**
 * Test support: the fake Grok server (subpath `grok-resilience/testing`, Node only).
 *
 * @since 0.1.0
 */

/**
 * The fake Grok: a real HTTP server on 127.0.0.1, or an in-process `HttpClient` on Effect's `Clock`, that answers
 * like xAI, with scripted answers, quotas, faults and stream faults.
 *
 * @since 0.1.0
 * @category testing
 */
export * as FakeGrok from "./FakeGrok.js"
