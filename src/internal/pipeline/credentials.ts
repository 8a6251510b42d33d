/**
 * The API key of a client as a current-value cell, and the refresh stage: after an `AuthError` a call asks the
 * client's `refreshApiKey` for a new key once and runs again with it; a second `AuthError` fails the call.
 *
 * Failures that arrive while a refresh runs wait for it instead of starting their own, and a failure made with a
 * key older than the current one takes the current one without refreshing, so concurrent calls share one refresh
 * per key. A key that a refresh produced and the API refused as well is not refreshed again for
 * `REFRESH_SPACING_MILLIS`: the calls that get it fail, instead of every wave of calls asking the refresh for
 * another key that fails the same way. The refresh runs in the client's scope, not the caller's fiber: a caller
 * interrupted by its deadline does not cut short the refresh the others wait for. Every key the client has held joins the secrets scrubbed
 * from errors, logs and spans; keys stay `Redacted` everywhere else.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type { GrokError } from "../../GrokError.js"
import { scrub } from "../../Redaction.js"
import { amend } from "./amend.js"
import type { CurrentKey, KeyUse } from "./attempt.js"

/** The key in use and how many refreshes produced it (0 for the key the client was built with). */
export type Current = CurrentKey

export interface Credentials {
  readonly current: Effect.Effect<Current>
  /** Every key held so far as text, for scrubbing; grows on refresh, bounded by `MAX_SECRETS`. */
  readonly secrets: ReadonlyArray<string>
  /** A key newer than generation `seen`: the one another call got already, or the shared refresh's. */
  readonly renew: ((seen: number) => Effect.Effect<Current, string>) | undefined
}

/** Keys remembered for scrubbing: the first one and the latest ones. A key is never scrubbed once dropped. */
const MAX_SECRETS = 16

/** The shortest time between a refresh and the next, once the refreshed key was refused too. */
export const REFRESH_SPACING_MILLIS = 10_000

interface State {
  readonly current: Current
  /** The refresh from `current.generation` that is running, if one is. */
  readonly running: Deferred.Deferred<Current, string> | undefined
  /** Clock millis of the last refresh that produced a key. */
  readonly refreshedAtMillis: number
}

const describe = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? error.message
    : typeof error === "object" && error !== null && "_tag" in error
      ? String(error._tag)
      : String(error)

const tooSoon = (waitMillis: number) =>
  `the refreshed key was refused as well; refreshApiKey runs again in ${Math.ceil(waitMillis)} ms at the earliest`

const remember = (secrets: Array<string>, key: string) => {
  if (secrets.includes(key)) return
  secrets.push(key)
  if (secrets.length > MAX_SECRETS) secrets.splice(1, 1)
}

/** The refresh with every way it can go wrong as a description: failed, died, or gave no key. */
const obtaining = (
  refresh: Effect.Effect<Redacted.Redacted<string>, unknown>,
  secrets: ReadonlyArray<string>
): Effect.Effect<Redacted.Redacted<string>, string> =>
  refresh.pipe(
    Effect.mapError((error) => `refreshApiKey failed: ${scrub(describe(error), secrets)}`),
    Effect.filterOrFail(
      (key) => Redacted.isRedacted(key) && typeof Redacted.value(key) === "string" && Redacted.value(key).length > 0,
      () => "refreshApiKey gave no key (an empty or non-Redacted value)"
    ),
    Effect.catchAllDefect((defect) => Effect.fail(`refreshApiKey died: ${scrub(describe(defect), secrets)}`))
  )

/** A key no refresh replaces. */
export const fixed = (apiKey: Redacted.Redacted<string>): Credentials => ({
  current: Effect.succeed({ key: apiKey, generation: 0 }),
  secrets: [Redacted.value(apiKey)],
  renew: undefined
})

export const make = (
  apiKey: Redacted.Redacted<string>,
  refresh: Effect.Effect<Redacted.Redacted<string>, unknown> | undefined
): Effect.Effect<Credentials, never, Scope.Scope> =>
  Effect.gen(function* () {
    if (refresh === undefined) return fixed(apiKey)
    const scope = yield* Effect.scope
    const secrets: Array<string> = [Redacted.value(apiKey)]
    const state = yield* Ref.make<State>({
      current: { key: apiKey, generation: 0 },
      running: undefined,
      refreshedAtMillis: 0
    })
    const current = Effect.map(Ref.get(state), (s) => s.current)

    const obtain = obtaining(refresh, secrets)
    /** Runs the refresh and settles `done` for every waiter, success or not; always clears the running mark. */
    const runRefresh = (done: Deferred.Deferred<Current, string>) =>
      obtain.pipe(
        Effect.flatMap((key) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Ref.modify(state, (s): [Current, State] => {
              const next = { key, generation: s.current.generation + 1 }
              return [next, { current: next, running: undefined, refreshedAtMillis: now }]
            })
          )
        ),
        Effect.tap((next) => Effect.sync(() => remember(secrets, Redacted.value(next.key)))),
        Effect.onExit((exit) =>
          Effect.zipRight(
            Ref.update(state, (s) => (s.running === done ? { ...s, running: undefined } : s)),
            Deferred.done(done, Exit.isInterrupted(exit) ? Exit.fail("the key refresh was interrupted") : exit)
          )
        )
      )
    const renew = (seen: number): Effect.Effect<Current, string> =>
      Effect.flatMap(Effect.zip(Deferred.make<Current, string>(), Clock.currentTimeMillis), ([mine, now]) =>
        Effect.flatMap(
          Ref.modify(state, (s): [Effect.Effect<Current, string>, State] => {
            if (s.current.generation !== seen) return [Effect.succeed(s.current), s]
            if (s.running !== undefined) return [Deferred.await(s.running), s]
            const wait = s.refreshedAtMillis + REFRESH_SPACING_MILLIS - now
            if (seen > 0 && wait > 0) return [Effect.fail(tooSoon(wait)), s]
            return [
              Effect.zipRight(Effect.forkIn(Effect.ignore(runRefresh(mine)), scope), Deferred.await(mine)),
              { ...s, running: mine }
            ]
          }),
          (next) => next
        )
      )
    return { current, secrets, renew }
  })

/**
 * Runs `call`; after its first `AuthError` renews the key (see `Credentials.renew`) and runs it once more. A
 * refresh that fails leaves the `AuthError` as it was, with the reason added to its detail.
 */
export const refreshing = <A>(
  credentials: Credentials,
  used: KeyUse,
  call: Effect.Effect<A, GrokError>
): Effect.Effect<A, GrokError> => {
  const renew = credentials.renew
  if (renew === undefined) return call
  return Effect.catchIf(
    call,
    (error) => error._tag === "AuthError",
    (error) =>
      Effect.matchEffect(renew(used.generation), {
        onFailure: (reason) =>
          Effect.zipRight(
            Effect.logInfo("grok call failed: the API key was refused and not refreshed").pipe(
              Effect.annotateLogs({ reason, status: error.status ?? "none" })
            ),
            Effect.fail(amend(error, { detail: error.detail ? `${error.detail}; ${reason}` : reason }))
          ),
        onSuccess: (next) =>
          Effect.zipRight(
            Effect.logInfo("grok call: the API key was refused; retrying once with the refreshed key").pipe(
              Effect.annotateLogs({ keyGeneration: next.generation, status: error.status ?? "none" })
            ),
            call
          )
      })
  )
}
