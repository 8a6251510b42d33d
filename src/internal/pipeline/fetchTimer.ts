/**
 * The attempt timeout through the request's own abort signal, for HttpClients that send through `fetch`
 * (`FetchHttpClient`): no fiber races the exchange. Each attempt's context gets a `fetch` of its own that sends
 * through the one the caller provided (or the global one) with a signal this module can abort. When the timer
 * fires it aborts that signal, which fails the request, or the reading of its body, at once; when the caller is
 * interrupted the attempt aborts it (`abort`), as Effect's HttpClient aborts its own. An HttpClient that never calls the
 * context's `fetch` (another transport, an in-memory client) keeps the racing timeout of `within.ts`: a client
 * learns which kind it has from its first attempt.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Option from "effect/Option"

/** Longer than a JS timer can wait: as Effect's live Clock does, such a wait never ends. */
export const MAX_TIMER_MILLIS = 2 ** 31 - 1

/** HttpClients seen sending an attempt through the attempt's `fetch`. */
const sendingThroughFetch = new WeakSet<HttpClient.HttpClient>()

/** Whether `http` sent an earlier attempt through the context's `fetch`, so that its signal can time it out. */
export const sendsThroughFetch = (http: HttpClient.HttpClient): boolean => sendingThroughFetch.has(http)

/** The reason a timed-out request is aborted with: what `fetch` rejects with. */
const timedOut = () => new DOMException("the attempt timed out", "TimeoutError")

/** One attempt's `fetch` and its timer, armed only when the attempt is timed through the signal. */
export class AttemptFetch {
  /** Whether the attempt's HttpClient called this `fetch`. */
  used = false
  /** Whether the timer fired: the failure that follows is the timeout. */
  fired = false
  private controller: AbortController | undefined = undefined
  private handle: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(private readonly outer: typeof globalThis.fetch | undefined) {}

  /** Starts the timer: the request, sent or not yet sent, is aborted after `millis`. */
  arm(millis: number): void {
    this.handle = setTimeout(() => {
      this.handle = undefined
      this.fired = true
      this.controller?.abort(timedOut())
    }, millis)
  }

  /** Stops the timer; the request is left as it is. */
  stop(): void {
    if (this.handle !== undefined) clearTimeout(this.handle)
    this.handle = undefined
  }

  /** Stops the timer and aborts the request: the caller was interrupted. */
  abort(): void {
    this.stop()
    this.controller?.abort()
  }

  /** The `fetch` the attempt's context holds. */
  readonly fetch: typeof globalThis.fetch = (input, init) => {
    this.used = true
    const send = this.outer ?? globalThis.fetch
    if (this.handle === undefined && !this.fired) return send(input, init)
    // The HttpClient's own signal is replaced rather than followed (a listener on it costs as much as the rest of
    // this): the attempt aborts this one when the caller is interrupted.
    return send(input, { ...init, signal: this.ownController().signal })
  }

  private ownController(): AbortController {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.fired) this.controller.abort(timedOut())
    }
    return this.controller
  }

  /** Notes, after the attempt, whether `http` sends through this `fetch`. */
  learn(http: HttpClient.HttpClient): void {
    if (this.used) sendingThroughFetch.add(http)
  }
}

/** Finds the attempt's `fetch` in its context. */
export class AttemptFetchTag extends Context.Tag("grok-resilience/AttemptFetch")<AttemptFetchTag, AttemptFetch>() {}

/**
 * The attempt's context: fetch's `RequestInit` (the caller's, if any) told not to follow redirects, since a
 * redirect would resend our key elsewhere and drop the prompt, and the attempt's own `fetch`. One map copy.
 */
export const attemptContext = (context: Context.Context<never>): Context.Context<never> => {
  const services = new Map(context.unsafeMap)
  const init = services.get(FetchHttpClient.RequestInit.key) as globalThis.RequestInit | undefined
  services.set(FetchHttpClient.RequestInit.key, { ...init, redirect: "manual" })
  const attempt = new AttemptFetch(services.get(FetchHttpClient.Fetch.key) as typeof globalThis.fetch | undefined)
  services.set(FetchHttpClient.Fetch.key, attempt.fetch)
  services.set(AttemptFetchTag.key, attempt)
  return Context.unsafeMake(services)
}

/** The attempt's `fetch`, when the context is an attempt's. */
export const attemptFetchOf = (context: Context.Context<never>): AttemptFetch | undefined =>
  Option.getOrUndefined(Context.getOption(context, AttemptFetchTag))
