/**
 * The batch journal of `--via batch-api`: `<output>.batch`, JSON lines that say which xAI batch this run uses and
 * which requests it has sent, each written (and synced) before the step it announces:
 *
 * - `{"creating": NAME}` before the batch is created, `{"batch_id": ID, "name": NAME}` once it is;
 * - `{"adding": [IDS]}` before a chunk is sent, `{"added": N}` once the server took it;
 * - `{"present": [IDS]}` for unsure requests the server's request list showed in the batch.
 *
 * Killed at any moment, the journal says what is certain and what is not: a `creating` without its `batch_id`
 * means the batch may exist under that name, an `adding` without its `added` means the chunk may have landed
 * (until a `present` or a later confirmed `adding` of its ids says so).
 * The runner settles both with the server (the batch list, the batch's request list) before it goes on.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import { describe, UsageError } from "./errors.js"
import { linesOf } from "./lines.js"

/**
 * What the journal holds.
 *
 * @since 0.2.0
 * @category models
 */
export interface Recorded {
  /** The name the batch was (or is being) created with. */
  readonly name: string | undefined
  readonly batchId: string | undefined
  /** Request ids whose chunk the server took. */
  readonly added: ReadonlySet<string>
  /** Request ids of a chunk sent without its `added`: they may or may not be in the batch. */
  readonly uncertain: ReadonlyArray<string>
}

/**
 * The open journal.
 *
 * @since 0.2.0
 * @category models
 */
export interface BatchJournal {
  readonly path: string
  readonly recorded: Recorded
  readonly creating: (name: string) => Effect.Effect<void, UsageError>
  readonly created: (batchId: string, name: string) => Effect.Effect<void, UsageError>
  readonly adding: (ids: ReadonlyArray<string>) => Effect.Effect<void, UsageError>
  readonly added: (count: number) => Effect.Effect<void, UsageError>
  readonly present: (ids: ReadonlyArray<string>) => Effect.Effect<void, UsageError>
}

/**
 * The journal's path beside the results file.
 *
 * @since 0.2.0
 * @category constructors
 */
export const pathFor = (output: string): string => `${output}.batch`

const isStrings = (u: unknown): u is ReadonlyArray<string> =>
  Array.isArray(u) && u.every((id) => typeof id === "string")

/** Reads the journal back, ignoring a torn last line and lines it does not know. */
const read = (path: string): { recorded: Recorded; goodEnd: number } => {
  let name: string | undefined
  let batchId: string | undefined
  const added = new Set<string>()
  let pending: ReadonlyArray<string> = []
  const unsure = new Set<string>()
  let goodEnd = 0
  const fd = Fs.openSync(path, "r")
  try {
    for (const line of linesOf(fd)) {
      if (!line.terminated) break
      goodEnd = line.end
      let entry: Record<string, unknown>
      try {
        entry = JSON.parse(line.text) as Record<string, unknown>
      } catch {
        continue
      }
      if (typeof entry !== "object" || entry === null) continue
      if (typeof entry.creating === "string") name = entry.creating
      if (typeof entry.batch_id === "string") {
        batchId = entry.batch_id
        if (typeof entry.name === "string") name = entry.name
      }
      if (isStrings(entry.adding)) {
        // A chunk announced and never confirmed stays unsure, whatever came after it.
        for (const id of pending) unsure.add(id)
        pending = entry.adding
      }
      if (typeof entry.added === "number") {
        for (const id of pending) added.add(id)
        pending = []
      }
      if (isStrings(entry.present)) for (const id of entry.present) added.add(id)
    }
  } finally {
    Fs.closeSync(fd)
  }
  for (const id of pending) unsure.add(id)
  const uncertain = [...unsure].filter((id) => !added.has(id))
  return { recorded: { name, batchId, added, uncertain }, goodEnd }
}

const empty: Recorded = { name: undefined, batchId: undefined, added: new Set(), uncertain: [] }

const fail = (path: string, what: string) => (error: unknown) =>
  new UsageError({ message: `cannot ${what} the batch journal ${path}: ${describe(error)}` })

/**
 * Opens the journal of `output` (the caller holds the results file's lock), cutting a torn last line off;
 * `fresh` starts it empty.
 *
 * @since 0.2.0
 * @category constructors
 */
export const open = (
  output: string,
  options: { readonly fresh: boolean }
): Effect.Effect<BatchJournal, UsageError, Scope.Scope> =>
  Effect.gen(function* () {
    const path = pathFor(output)
    const recorded = yield* Effect.try({
      try: () => {
        if (options.fresh || !Fs.existsSync(path)) {
          Fs.writeFileSync(path, "")
          return empty
        }
        const found = read(path)
        Fs.truncateSync(path, found.goodEnd)
        return found.recorded
      },
      catch: fail(path, "read")
    })
    const fd = yield* Effect.acquireRelease(
      Effect.try({ try: () => Fs.openSync(path, "a"), catch: fail(path, "open") }),
      (fd) => Effect.sync(() => Fs.closeSync(fd))
    )
    // Each entry is one write, synced before the step it announces is taken.
    const write = (entry: unknown) =>
      Effect.try({
        try: () => {
          const bytes = Buffer.from(`${JSON.stringify(entry)}\n`, "utf8")
          let offset = 0
          while (offset < bytes.length) offset += Fs.writeSync(fd, bytes, offset, bytes.length - offset)
          Fs.fsyncSync(fd)
        },
        catch: fail(path, "write")
      })
    return {
      path,
      recorded,
      creating: (name) => write({ creating: name }),
      created: (batchId, name) => write({ batch_id: batchId, name }),
      adding: (ids) => write({ adding: ids }),
      added: (count) => write({ added: count }),
      present: (ids) => write({ present: ids })
    } satisfies BatchJournal
  })
