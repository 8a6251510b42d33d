/**
 * grok-resilience: typed errors, Schedule-based retries, shared rate limiting, circuit breakers, retry budgets,
 * fallback models and monitoring for the xAI Grok API.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as AdaptiveRate from "./AdaptiveRate.js"
/** @since 0.1.0 */
export * as Alerts from "./Alerts.js"
/** @since 0.2.0 */
export * as CircuitBreaker from "./CircuitBreaker.js"
/** @since 0.1.0 */
export * as GrokApi from "./GrokApi.js"
/** @since 0.2.0 */
export * as GrokBatches from "./GrokBatches.js"
/** @since 0.1.0 */
export * as GrokClient from "./GrokClient.js"
/** @since 0.1.0 */
export * as GrokError from "./GrokError.js"
/** @since 0.1.0 */
export * as GrokMetrics from "./GrokMetrics.js"
/** @since 0.1.0 */
export * as MemoryStore from "./MemoryStore.js"
/** @since 0.1.0 */
export * as Prometheus from "./Prometheus.js"
/** @since 0.1.0 */
export * as RateLimitHeaders from "./RateLimitHeaders.js"
/** @since 0.1.0 */
export * as RateLimiter from "./RateLimiter.js"
/** @since 0.1.0 */
export * as RateLimiterStore from "./RateLimiterStore.js"
/** @since 0.1.0 */
export * as Redaction from "./Redaction.js"
/** @since 0.2.0 */
export * as RetryBudget from "./RetryBudget.js"
/** @since 0.1.0 */
export * as RetryPolicy from "./RetryPolicy.js"
