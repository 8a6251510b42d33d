/**
 * `queue push`: validates the input as `batch` does and loads it into the job. Pushing is idempotent: an item is
 * known by its key (its id, or its line for a line without a usable id) and the hash of its line, so the same
 * input pushed again adds nothing, and a changed line under a known id is reported, not pushed.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import { ExitCode, type UsageError } from "../errors.js"
import * as Input from "../input.js"
import * as Records from "../records.js"
import type { Line } from "../lines.js"
import { redactUrl } from "../limiter.js"
import * as Connection from "./connection.js"
import type { PushConfig } from "./options.js"
import * as Store from "./store.js"

/** Items per script call: big enough to amortise the round trip, small enough not to stall Redis. */
const CHUNK = 500

/** How many conflicting keys the notice names. */
const NAMED = 10

/** 64 bits of SHA-256: two different lines under one key are told apart with certainty far beyond any job size. */
export const contentHash = (text: string): string => createHash("sha256").update(text).digest("hex").slice(0, 16)

const toPushed = (item: Input.Item, line: Line): Store.Pushed =>
  item._tag === "Call"
    ? { key: item.key, hash: contentHash(line.text), kind: "call", line: line.number, payload: line.text }
    : {
        key: item.key,
        hash: contentHash(line.text),
        kind: "refused",
        line: line.number,
        payload: Records.encode(item.record)
      }

/** Displays a key (`i<id>` or `l<line>`) the way a user wrote it. */
export const showKey = (key: string): string =>
  key.startsWith("l") ? `line ${key.slice(1)}` : JSON.stringify(key.slice(1))

export const run = (
  config: PushConfig,
  stderr: (text: string) => void
): Effect.Effect<number, UsageError | Connection.QueueError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const connection = yield* Connection.open(config.redis, config.redisWait)
      const store = Store.make(connection, config.job)
      yield* store.ensureGroup
      const parse = Input.parser({ model: config.model, api: config.api })
      const tally = { added: 0, same: 0, refused: 0, conflicts: 0, named: [] as Array<string> }
      yield* Input.lines(config.input).pipe(
        Stream.filterMap((line) => {
          const item = parse(line)
          return item === undefined ? Option.none() : Option.some(toPushed(item, line))
        }),
        Stream.grouped(CHUNK),
        Stream.mapEffect((chunk) => {
          const items = Chunk.toReadonlyArray(chunk)
          return Effect.map(store.push(items), (result) => {
            tally.added += result.added
            tally.same += result.same
            tally.conflicts += result.conflicts.length
            for (const key of result.conflicts) if (tally.named.length < NAMED) tally.named.push(showKey(key))
            tally.refused += items.filter((item) => item.kind === "refused").length
          })
        }),
        Stream.runDrain
      )
      const counts = yield* store.counts
      if (!config.quiet) {
        stderr(
          `Pushed ${tally.added} new items to job "${config.job}" at ${redactUrl(config.redis)} ` +
            `(${tally.same} already there). ${tally.refused} input lines were refused and are error results of the job. ` +
            `The job has ${counts.total} items, ${counts.done} with a result.\n`
        )
      }
      if (tally.conflicts > 0) {
        stderr(
          `${tally.conflicts} ids are already in the job with other content and were not pushed: ` +
            `${tally.named.join(", ")}${tally.conflicts > NAMED ? ", …" : ""}. Use another --job for a changed input.\n`
        )
        return ExitCode.failed
      }
      return ExitCode.ok
    })
  )
