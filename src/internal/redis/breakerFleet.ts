/**
 * The shared circuit breaker's `Fleet` over Redis: the scripts of `breakerScripts.ts` on the store's connection
 * (every command bounded by its timeout), and announcements on a pub/sub channel read by a second connection of
 * its own (a subscribed connection can send nothing else). ioredis subscribes again after a reconnect;
 * announcements sent while it was away are lost, which the shared breaker's polling covers.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Redis } from "ioredis"
import type * as Fleet from "../breaker/fleet.js"
import * as Scripts from "./breakerScripts.js"
import type * as RedisConnection from "./connection.js"
import type { Script } from "./scripts.js"

export interface Settings {
  readonly prefix: string
  /** This process's id: the holder of its leases and the origin of its announcements. */
  readonly holder: string
  /** How long a record outlives its break. */
  readonly marginMillis: number
  /** Longest wait for the subscription at start. */
  readonly connectTimeoutMillis: number
}

const isDigits = (text: unknown): text is string => typeof text === "string" && /^-?\d+$/.test(text)

/** A record from five reply fields, or undefined when they are not one. */
export const parseRecord = (fields: ReadonlyArray<unknown>): Fleet.FleetRecord | undefined => {
  const [gen, status, remaining, step, breakMillis] = fields
  if (!isDigits(gen) || (status !== "Open" && status !== "Closed")) return undefined
  if (!isDigits(remaining) || !isDigits(step) || !isDigits(breakMillis)) return undefined
  return {
    gen: Number(gen),
    status,
    remainingMillis: Number(remaining),
    step: Number(step),
    breakMillis: Number(breakMillis)
  }
}

/** A claim or peek reply: `{ tag, lease millis, exists, record... }`. */
const parseAnswer = (
  reply: unknown
):
  | { readonly tag: string; readonly leaseMillis: number; readonly record: Fleet.FleetRecord | undefined }
  | undefined => {
  if (!Array.isArray(reply) || reply.length !== 8 || typeof reply[0] !== "string" || !isDigits(reply[1])) {
    return undefined
  }
  const record = parseRecord(reply.slice(3))
  if (record === undefined) return undefined
  return { tag: reply[0], leaseMillis: Number(reply[1]), record: reply[2] === "1" ? record : undefined }
}

export const parseClaim = (reply: unknown): Fleet.Claim | undefined => {
  const answer = parseAnswer(reply)
  if (answer === undefined) return undefined
  const { tag, leaseMillis, record } = answer
  if (tag === "Probe") return { _tag: "Probe", record }
  if (record === undefined) return undefined
  if (tag === "Wait" || tag === "Closed") return { _tag: tag, record }
  if (tag === "Busy") return { _tag: "Busy", record, leaseMillis }
  return undefined
}

/** An announcement of another process, or undefined (this process's own, or not one at all). */
export const parseEvent = (message: string, holder: string): Fleet.FleetEvent | undefined => {
  let parsed: unknown
  try {
    parsed = JSON.parse(message)
  } catch {
    return undefined
  }
  if (typeof parsed !== "object" || parsed === null) return undefined
  const { k, o, e, g, s, r, p, b } = parsed as Record<string, unknown>
  if (typeof k !== "string" || o === holder || (e !== "open" && e !== "close" && e !== "release")) return undefined
  const record = parseRecord([g, s, r, p, b])
  return record === undefined ? undefined : { key: k, record, released: e === "release" }
}

const unreadable = (script: Script, reply: unknown): Fleet.FleetError => ({
  detail: `unexpected reply from the Redis ${script.name} script: ${JSON.stringify(reply)}`
})

/** The fleet in the current scope; the subscription ends with it. */
export const make = (
  connection: RedisConnection.Connection,
  subscriber: Redis,
  settings: Settings
): Effect.Effect<Fleet.Fleet, never, Scope.Scope> =>
  Effect.gen(function* () {
    const channel = `${settings.prefix}:breaker:events`
    const keysOf = (key: string) => [`${settings.prefix}:breaker:${key}`, `${settings.prefix}:breaker:${key}:probe`]
    const run = <A>(script: Script, key: string, extra: ReadonlyArray<string>, parse: (reply: unknown) => A) =>
      connection
        .run("hold", script, keysOf(key), [channel, key, settings.holder, String(settings.marginMillis), ...extra])
        .pipe(
          Effect.mapError((error): Fleet.FleetError => ({ detail: error.detail })),
          Effect.flatMap((reply) => {
            const parsed = parse(reply)
            return parsed === undefined ? Effect.fail(unreadable(script, reply)) : Effect.succeed(parsed)
          })
        )
    const record = (reply: unknown) => (Array.isArray(reply) ? parseRecord(reply) : undefined)

    yield* Effect.promise(() => subscriber.subscribe(channel).catch(() => 0)).pipe(
      Effect.timeout(Duration.millis(settings.connectTimeoutMillis)),
      Effect.ignore
    )
    const events = Stream.async<Fleet.FleetEvent>((emit) => {
      const onMessage = (from: string, message: string) => {
        if (from !== channel) return
        const event = parseEvent(message, settings.holder)
        if (event !== undefined) void emit.single(event)
      }
      subscriber.on("message", onMessage)
      return Effect.sync(() => void subscriber.off("message", onMessage))
    })

    return {
      open: (key, request) =>
        run(
          Scripts.open,
          key,
          [
            request.reopen ? "1" : "0",
            String(request.baseGen),
            String(request.step),
            String(Math.ceil(request.breakMillis))
          ],
          record
        ),
      close: (key) => run(Scripts.close, key, [], record),
      claim: (key, leaseMillis) => run(Scripts.claim, key, [String(Math.ceil(leaseMillis))], parseClaim),
      release: (key) => Effect.asVoid(run(Scripts.release, key, [], (reply) => reply)),
      peek: (key) =>
        run(Scripts.peek, key, [], (reply) => {
          const answer = parseAnswer(reply)
          return answer === undefined ? undefined : { record: answer.record, leaseMillis: answer.leaseMillis }
        }),
      events
    } satisfies Fleet.Fleet
  })
