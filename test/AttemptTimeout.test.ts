import { FetchHttpClient, HttpClient, HttpClientError, HttpClientResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Redacted, TestClock, TestServices } from "effect"
import type * as Http from "node:http"
import * as GrokClient from "../src/GrokClient.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { hello, untilArrivals, withFake } from "./support/client.js"
import { completionBody, hostileServer } from "./support/hostileServer.js"

// The attempt timeout on the live Clock. Over fetch, a client's first attempt races a timer (within.ts); once the
// client has seen its HttpClient send through fetch, later attempts are timed by the request's own abort signal
// (fetchTimer.ts). Each test makes several calls on one client, so that both ways are checked.

const KEY = "xai-timeout-test-key-0123456789"
const json = { "content-type": "application/json" }

const fetchClient = (
  url: string,
  options: Partial<GrokClient.Options> = {},
  http: Layer.Layer<HttpClient.HttpClient> = FetchHttpClient.layer
) =>
  GrokClient.make({
    apiKey: Redacted.make(KEY),
    baseUrl: url,
    retry: RetryPolicy.none,
    // Long enough that an answered attempt is answered in time on a loaded machine, short enough to keep tests quick.
    attemptTimeout: "250 millis",
    ...options
  }).pipe(Effect.provide(http))

/**
 * Records which requests reached the server and which of them had their connection closed before their answer was
 * finished. A request aborted before it was sent never arrives, so the tests compare the two.
 */
const abandoned = () => {
  const arrived: Array<number> = []
  const closed: Array<number> = []
  const watch = (response: Http.ServerResponse, index: number) => {
    arrived.push(index)
    response.on("close", () => {
      if (!response.writableFinished) closed.push(index)
    })
  }
  const everyArrivalClosed = () => arrived.length > 0 && closed.length === arrived.length
  return { arrived, closed, everyArrivalClosed, watch }
}

/** Waits in real time, without sleeping, until `check` holds (a server-side event that follows the client's). */
const until = (check: () => boolean) =>
  Effect.async<void>((resume) => {
    const poll = setInterval(() => {
      if (check()) {
        clearInterval(poll)
        resume(Effect.void)
      }
    }, 2)
    return Effect.sync(() => clearInterval(poll))
  }).pipe(Effect.timeout("5 seconds"))

/** A server that answers every request but the fourth, which it holds, and a fetch that counts what it sends. */
const fourthHeld = () =>
  Effect.gen(function* () {
    const server = yield* hostileServer((_, response, index) => {
      if (index !== 3) response.writeHead(200, json).end(completionBody())
    })
    const counted = { sent: 0 }
    const fetch: typeof globalThis.fetch = (input, init) => {
      counted.sent++
      return globalThis.fetch(input, init)
    }
    return { server, counted, fetch }
  })

/** Three calls of `grok`, one after the other, each failing by the attempt timeout, and their requests aborted. */
const threeTimedOut = (
  grok: Effect.Effect.Success<ReturnType<typeof fetchClient>>,
  watched: ReturnType<typeof abandoned>
) =>
  Effect.gen(function* () {
    for (const call of [0, 1, 2]) {
      const error = yield* Effect.flip(grok.chat(hello(`call ${call}`))).pipe(Effect.timeout("5 seconds"))
      expect(error._tag === "Transient" && error.reason).toBe("Timeout")
    }
    yield* until(watched.everyArrivalClosed)
    expect(watched.closed).toEqual(watched.arrived)
  })

const timersNow = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length

describe("the attempt timeout over fetch", () => {
  it.scopedLive("an answer whose head never comes times out, and its request is aborted, on every attempt", () =>
    Effect.gen(function* () {
      const watched = abandoned()
      const server = yield* hostileServer((_, response, index) => watched.watch(response, index))
      const grok = yield* fetchClient(server.url)
      for (const call of [0, 1, 2]) {
        const error = yield* Effect.flip(grok.chat(hello(`call ${call}`))).pipe(Effect.timeout("5 seconds"))
        expect(error._tag).toBe("Transient")
        expect(error._tag === "Transient" && error.reason).toBe("Timeout")
        expect(error.message).toContain("250ms")
      }
      // Every request that reached the server was aborted (one whose timer fired before it was sent never arrives).
      yield* until(watched.everyArrivalClosed)
      expect(watched.closed).toEqual(watched.arrived)
    })
  )

  it.scopedLive("a body that stops after the head times out as well", () =>
    Effect.gen(function* () {
      const watched = abandoned()
      const server = yield* hostileServer((_, response, index) => {
        watched.watch(response, index)
        response.writeHead(200, { ...json, "content-length": "5000" }).write('{"id":"c-1",')
      })
      const grok = yield* fetchClient(server.url)
      yield* threeTimedOut(grok, watched)
    })
  )

  it.scopedLive("a timed-out attempt is retried like any timeout, and the retry is answered", () =>
    Effect.gen(function* () {
      const server = yield* hostileServer((_, response, index) => {
        // Calls 1 and 2 each have their first attempt held (requests 0 and 2); every other request is answered.
        if (index !== 0 && index !== 2) response.writeHead(200, json).end(completionBody(`answer ${index}`))
      })
      const grok = yield* fetchClient(server.url, {
        retry: RetryPolicy.make({ maxAttempts: 3, base: "1 millis", max: "1 millis" })
      })
      const first = yield* grok.chat(hello("first")).pipe(Effect.timeout("5 seconds"))
      const second = yield* grok.chat(hello("second")).pipe(Effect.timeout("5 seconds"))
      expect([first.content, first.attempts]).toEqual(["answer 1", 2])
      expect([second.content, second.attempts]).toEqual(["answer 3", 2])
    })
  )

  it.scopedLive("an interrupted call aborts its request and leaves no timer behind", () =>
    Effect.gen(function* () {
      const { closed, watch } = abandoned()
      const arrived = yield* Deferred.make<number>()
      const server = yield* hostileServer((_, response, index) => {
        if (index === 0) return void response.writeHead(200, json).end(completionBody())
        watch(response, index)
        Deferred.unsafeDone(arrived, Effect.succeed(index))
      })
      const grok = yield* fetchClient(server.url, { attemptTimeout: "10 minutes" })
      yield* grok.chat(hello("learns that the client sends through fetch"))
      const before = timersNow()
      const call = yield* Effect.fork(grok.chat(hello("interrupted")))
      expect(yield* Deferred.await(arrived)).toBe(1)
      expect(timersNow()).toBeGreaterThan(before)
      yield* Fiber.interrupt(call)
      yield* until(() => closed.length === 1)
      expect(timersNow()).toBeLessThanOrEqual(before)
    })
  )

  it.scopedLive("the caller's own fetch and RequestInit send every attempt, and the attempts still time out", () =>
    Effect.gen(function* () {
      const headers: Array<string | undefined> = []
      // The fourth request is held: the caller's fetch must still be aborted at the timeout.
      const { server, counted, fetch } = yield* fourthHeld()
      server.server.on("request", (request: Http.IncomingMessage) =>
        headers.push(request.headers["x-caller"] as string)
      )
      const grok = yield* fetchClient(server.url)
      const calls = Effect.gen(function* () {
        for (const i of [1, 2, 3]) yield* grok.chat(hello(`call ${i}`))
        return yield* Effect.flip(grok.chat(hello("held"))).pipe(Effect.timeout("5 seconds"))
      }).pipe(
        Effect.provide(
          Layer.mergeAll(
            Layer.succeed(FetchHttpClient.Fetch, fetch),
            Layer.succeed(FetchHttpClient.RequestInit, { headers: { "x-caller": "kept" } })
          )
        )
      )
      const held = yield* calls
      expect(held._tag === "Transient" && held.reason).toBe("Timeout")
      expect(counted.sent).toBe(4)
      expect(headers).toEqual(["kept", "kept", "kept", "kept"])
    })
  )

  it.scopedLive(
    "a fetch given to the HttpClient's own layer sends every attempt, and the attempts still time out",
    () =>
      Effect.gen(function* () {
        // The fourth request is held: the layer's fetch must still be aborted at the timeout.
        const { server, counted, fetch } = yield* fourthHeld()
        const http = FetchHttpClient.layer.pipe(Layer.provide(Layer.succeed(FetchHttpClient.Fetch, fetch)))
        const grok = yield* fetchClient(server.url, {}, http)
        for (const i of [0, 1, 2]) yield* grok.chat(hello(`call ${i}`))
        const held = yield* Effect.flip(grok.chat(hello("held"))).pipe(Effect.timeout("5 seconds"))
        expect(held._tag === "Transient" && held.reason).toBe("Timeout")
        expect(counted.sent).toBe(4)
      })
  )

  it.scopedLive("a RequestInit given to the HttpClient's own layer reaches the server from the second attempt on", () =>
    Effect.gen(function* () {
      const headers: Array<string | undefined> = []
      const server = yield* hostileServer((_, response) => response.writeHead(200, json).end(completionBody()))
      server.server.on("request", (request: Http.IncomingMessage) => headers.push(request.headers["x-layer"] as string))
      const http = FetchHttpClient.layer.pipe(
        Layer.provide(Layer.succeed(FetchHttpClient.RequestInit, { headers: { "x-layer": "kept" } }))
      )
      const grok = yield* fetchClient(server.url, {}, http)
      for (const i of [0, 1, 2]) yield* grok.chat(hello(`call ${i}`))
      // The first attempt, which learns what the HttpClient sends through, carries the library's RequestInit.
      expect(headers).toEqual([undefined, "kept", "kept"])
    })
  )

  it.scopedLive("an attempt that waited for admission while its client learned still times out", () =>
    Effect.gen(function* () {
      const server = yield* hostileServer((_, response, index) => {
        if (index === 0) response.writeHead(200, json).end(completionBody())
      })
      // One request every 100 ms: the second call's attempt starts with the first, then waits for its admission
      // while the first one's answer teaches the client that its HttpClient sends through fetch.
      const limiter = yield* RateLimiter.make({ requestsPerSecond: 10, burst: 1 })
      const grok = yield* fetchClient(server.url).pipe(Effect.provide(Layer.succeed(RateLimiter.RateLimiter, limiter)))
      const [first, second] = yield* Effect.all([grok.chat(hello("first")), Effect.flip(grok.chat(hello("second")))], {
        concurrency: 2
      }).pipe(Effect.timeout("5 seconds"))
      expect(first.content).toBe("ok")
      expect(second._tag === "Transient" && second.reason).toBe("Timeout")
    })
  )

  it.scopedLive("a redirect is refused on every attempt, raced or timed by the signal", () =>
    Effect.gen(function* () {
      const elsewhere = yield* hostileServer((_, response) => response.writeHead(200, json).end(completionBody()))
      const server = yield* hostileServer((_, response, index) => {
        if (index === 0) response.writeHead(200, json).end(completionBody())
        else response.writeHead(307, { location: `${elsewhere.url}/chat/completions` }).end()
      })
      const grok = yield* fetchClient(server.url)
      yield* grok.chat(hello("learns"))
      for (const i of [1, 2]) {
        const error = yield* Effect.flip(grok.chat(hello(`call ${i}`)))
        expect(error.message).toContain(elsewhere.url)
      }
      expect(elsewhere.seen.length).toBe(0)
    })
  )

  it.scopedLive("an HttpClient that reads fetch's options but sends through another fetch keeps the race", () =>
    Effect.gen(function* () {
      const watched = abandoned()
      const server = yield* hostileServer((_, response, index) => watched.watch(response, index))
      // Reads RequestInit from the context, as Effect's fetch client does, but calls the global fetch itself.
      const ownFetch = HttpClient.make((request, url, signal, fiber) => {
        const init: RequestInit = fiber.currentContext.unsafeMap.get(FetchHttpClient.RequestInit.key) ?? {}
        return Effect.tryPromise({
          try: () => globalThis.fetch(url, { ...init, method: request.method, signal }),
          catch: (cause) => new HttpClientError.RequestError({ request, reason: "Transport", cause })
        }).pipe(Effect.map((response) => HttpClientResponse.fromWeb(request, response)))
      })
      const grok = yield* fetchClient(server.url, {}, Layer.succeed(HttpClient.HttpClient, ownFetch))
      yield* threeTimedOut(grok, watched)
    })
  )

  it.scopedLive("an HttpClient that does not send through fetch keeps the raced timeout on every attempt", () =>
    Effect.gen(function* () {
      let interrupted = 0
      const stuck = HttpClient.make(() => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted++))))
      const grok = yield* GrokClient.make({
        apiKey: Redacted.make(KEY),
        baseUrl: "http://127.0.0.1:9/v1",
        retry: RetryPolicy.none,
        attemptTimeout: "20 millis"
      }).pipe(Effect.provide(Layer.succeed(HttpClient.HttpClient, stuck)))
      for (const call of [0, 1, 2]) {
        const error = yield* Effect.flip(grok.chat(hello(`call ${call}`))).pipe(Effect.timeout("5 seconds"))
        expect(error._tag === "Transient" && error.reason).toBe("Timeout")
      }
      expect(interrupted).toBe(3)
    })
  )
})

describe("the attempt timeout over fetch, on TestClock", () => {
  // A fetch client learns what its HttpClient does on its first two attempts; under TestClock its later attempts
  // are still raced against a sleep that virtual time moves, never timed by a real timer.
  it.scoped("a fetch client's later attempts time out at the virtual attempt timeout, not before", () =>
    Effect.gen(function* () {
      const { fake, grok } = yield* withFake(
        { script: ["ok", "ok", "slow"], slowMillis: 60_000 },
        { attemptTimeout: "5 seconds" }
      )
      for (const i of [1, 2]) expect((yield* grok.chat(hello(`call ${i}`))).content).toContain("echo")
      const fiber = yield* Effect.fork(Effect.flip(grok.chat(hello("slow"))))
      yield* untilArrivals(fake, 3)
      yield* TestClock.adjust("4999 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      // At once in real time: a real timer of 5 s would not have fired yet.
      const error = yield* Fiber.join(fiber).pipe(Effect.timeout("1 second"), TestServices.provideLive)
      expect(error._tag === "Transient" && error.reason).toBe("Timeout")
    })
  )
})
