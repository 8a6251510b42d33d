/**
 * The attempt timeout through the request's own abort signal, for HttpClients that send through `fetch`
 * (`FetchHttpClient`): no fiber races the exchange. The attempt's context gets a `fetch` of its own that sends
 * through the caller's (or the global one) with a signal this module can abort. When the timer fires it aborts that
 * signal, which fails the request, or the reading of its body, at once; when the caller is interrupted the attempt
 * aborts it (`abort`), as Effect's HttpClient aborts its own.
 *
 * That `fetch` must not hide one the caller gave the HttpClient's own layer: `FetchHttpClient.layer` merges the
 * context it was built in under the caller's, so an entry of the call's context wins over the layer's. So a client
 * first learns, from an attempt timed by the race of `within.ts`, what its HttpClient does: fetch's `RequestInit`
 * that attempt carries is read by Effect's fetch client inside the merged context, where the `fetch` it will call
 * can be seen. From then on the attempts of such an HttpClient hold the attempt's `fetch` when the call's context
 * holds a `fetch` (it wins over the layer's) or the layer has none of its own, and are timed by the signal once the
 * HttpClient was seen calling it (an HttpClient that reads fetch's options but sends otherwise never is). Any
 * other attempt (another transport, an in-memory client, a layer's own `fetch` the call's context does not
 * override) keeps the race.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/** Longer than a JS timer can wait: as Effect's live Clock does, such a wait never ends. */
export const MAX_TIMER_MILLIS = 2 ** 31 - 1

type Fetch = typeof globalThis.fetch

/** What an HttpClient was seen to do, once seen reading fetch's `RequestInit` inside Effect's merged context. */
interface Seen {
  /** Whether its layer has a `fetch` of its own; undefined while every attempt seen had one in the call's context. */
  layerFetch: boolean | undefined
  /** Whether it called the attempt's `fetch`: only then is an attempt timed by the signal. */
  called: boolean
  /** Whether an attempt whose context held the attempt's `fetch` ended without calling it: never again. */
  refuted: boolean
}

const seenSending = new WeakMap<HttpClient.HttpClient, Seen>()

/**
 * The record of `http` when an attempt whose call's context holds `own` (or no `fetch`) can hold the attempt's
 * `fetch`: `http` reads fetch's options, and the `fetch` it calls is the call's own, or the global one for a layer
 * without its own.
 */
const holding = (http: HttpClient.HttpClient, own: Fetch | undefined): Seen | undefined => {
  const seen = seenSending.get(http)
  return seen !== undefined && !seen.refuted && (own !== undefined || seen.layerFetch === false) ? seen : undefined
}

/** The reason a timed-out request is aborted with: what `fetch` rejects with. */
const timeoutReason = () => new DOMException("the attempt timed out", "TimeoutError")

/** One attempt's `fetch` and its timer, armed only when the attempt is timed through the signal. */
export class AttemptFetch {
  /** Whether the timer fired: the failure that follows is the timeout. */
  fired = false
  /**
   * Whether the attempt is timed by the signal, decided when its context was made (a client may learn what its
   * HttpClient does while an attempt made before that waits for its admission): its context holds this `fetch`
   * and the HttpClient was seen calling such a `fetch` before.
   */
  readonly bySignal: boolean
  private used = false
  private controller: AbortController | undefined = undefined
  private handle: ReturnType<typeof setTimeout> | undefined = undefined

  /** `outer`: the `fetch` of the call's own context, if any; `seen`: the HttpClient's record, when this is held. */
  constructor(
    private readonly outer: Fetch | undefined,
    private readonly seen: Seen | undefined
  ) {
    this.bySignal = seen !== undefined && seen.called
  }

  /** Notes, after a raced attempt, whether the HttpClient called this `fetch` its context held. */
  settle(): void {
    if (this.seen !== undefined && !this.used) this.seen.refuted = true
  }

  /** Starts the timer: the request, sent or not yet sent, is aborted after `millis`. */
  arm(millis: number): void {
    this.handle = setTimeout(() => {
      this.handle = undefined
      this.fired = true
      this.controller?.abort(timeoutReason())
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

  /**
   * The `fetch` the attempt's context holds: never following a redirect, which would resend our key elsewhere and
   * drop the prompt, and with this attempt's signal once armed. The HttpClient's own signal is replaced rather than
   * followed (a listener on it costs as much as the rest of this): the attempt aborts this one when the caller is
   * interrupted.
   */
  readonly fetch: Fetch = (input, init) => {
    this.used = true
    if (this.seen !== undefined) this.seen.called = true
    const send = this.outer ?? globalThis.fetch
    // Not timed through the signal (a TestClock's attempt): the HttpClient's own signal stays.
    if (this.handle === undefined && !this.fired) return send(input, { ...init, redirect: "manual" })
    return send(input, { ...init, redirect: "manual", signal: this.ownController().signal })
  }

  private ownController(): AbortController {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.fired) this.controller.abort(timeoutReason())
    }
    return this.controller
  }
}

/** Finds the attempt's `fetch` in its context. */
export class AttemptFetchTag extends Context.Tag("grok-resilience/AttemptFetch")<AttemptFetchTag, AttemptFetch>() {}

/**
 * Fetch's `RequestInit` for an attempt raced by `within.ts`: the caller's, told not to follow redirects. Effect's
 * fetch client spreads it inside the merged context; reading `redirect` there notes what `http` sends through.
 */
const learningInit = (
  http: HttpClient.HttpClient,
  init: globalThis.RequestInit | undefined,
  own: Fetch | undefined
): globalThis.RequestInit => ({
  ...init,
  get redirect(): RequestRedirect {
    const fiber = Fiber.getCurrentFiber()
    if (Option.isSome(fiber)) {
      const seen = seenSending.get(http) ?? { layerFetch: undefined, called: false, refuted: false }
      // With a `fetch` in the call's context the layer's cannot be seen: the call's wins either way.
      if (own === undefined)
        seen.layerFetch = fiber.value.currentContext.unsafeMap.get(FetchHttpClient.Fetch.key) !== undefined
      seenSending.set(http, seen)
    }
    return "manual"
  }
})

/**
 * The attempt's context, in one map copy: its span as the parent, its `fetch` once `http` is known to send through
 * it, and the attempt's own.
 */
export const attemptContext =
  (http: HttpClient.HttpClient) =>
  (context: Context.Context<never>, span: Tracer.Span): Context.Context<never> => {
    const services = new Map(context.unsafeMap)
    services.set(Tracer.ParentSpan.key, span)
    const own = services.get(FetchHttpClient.Fetch.key) as Fetch | undefined
    const seen = holding(http, own)
    const attempt = new AttemptFetch(own, seen)
    if (seen !== undefined) services.set(FetchHttpClient.Fetch.key, attempt.fetch)
    else {
      const init = services.get(FetchHttpClient.RequestInit.key) as globalThis.RequestInit | undefined
      services.set(FetchHttpClient.RequestInit.key, learningInit(http, init, own))
    }
    services.set(AttemptFetchTag.key, attempt)
    return Context.unsafeMake(services)
  }

/** The attempt's `fetch`, when the context is an attempt's. */
export const attemptFetchOf = (context: Context.Context<never>): AttemptFetch | undefined =>
  context.unsafeMap.get(AttemptFetchTag.key) as AttemptFetch | undefined
