/**
 * The results file as a journal: read back on start to learn which ids are finished, repaired when a kill left a
 * torn last line, then appended one complete line per `write`, so that a process killed at any moment (SIGKILL
 * included) leaves at most a torn last line, which the next run cuts off.
 *
 * A lock file (`<output>.lock`, holding the pid, see `./lock.ts`) keeps two runs from appending to the same file; a
 * lock left by a process that no longer exists is taken over. Both are placed at the file's real path, with every
 * symbolic link followed.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import { describe, UsageError } from "./errors.js"
import { type Hash, KeyTable } from "./keyTable.js"
import { linesOf } from "./lines.js"
import * as Lock from "./lock.js"
import * as Paths from "./paths.js"
import * as Records from "./records.js"

/**
 * How to open the results file.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Discard the existing file and start over. */
  readonly fresh: boolean
  /** Drop the lines of calls that failed, so that their ids are sent again. */
  readonly retryFailed: boolean
  /** The hash of the finished-id table (tests force collisions with it); FNV-1a by default. */
  readonly hash?: Hash
  /** How many ids the run expects (the input's line count), to size the table of ids once. */
  readonly expectedIds?: number
}

/**
 * What opening the file found and did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Recovery {
  /** Complete results lines kept from earlier runs. */
  readonly kept: number
  /** A torn last line (no newline, from a killed run) was cut off. */
  readonly tornLineRemoved: boolean
  /** Lines that were not results lines (corrupt, blank, repeated id), removed by rewriting the file. */
  readonly unreadableRemoved: number
  /** Failed lines dropped by `retryFailed`. */
  readonly failedDropped: number
}

/**
 * The open results file.
 *
 * @since 0.1.0
 * @category models
 */
export interface Journal {
  readonly path: string
  readonly recovery: Recovery
  /** The line already in the file for this key (`Records.idKey` / `Records.lineKey`), if any. */
  readonly finished: (key: string) => Records.Seen | undefined
  /**
   * The table of ids behind `finished`: the file's ids, each with its flags in the entry's tag (0 for an id the file
   * does not hold). The values are the caller's: the input parser notes in them the line each id was first seen
   * on (`Input.ParserOptions.ids`), so a resumed run holds each id once, not in two tables.
   */
  readonly ids: KeyTable
  /** Appends one line with a single write. */
  readonly append: (record: Records.ResultLine) => Effect.Effect<void, UsageError>
}

interface Scan {
  readonly finished: KeyTable
  readonly goodEnd: number
  readonly torn: boolean
  readonly unreadable: number
  readonly dropped: number
}

/** The tag of an id the file holds; an entry whose tag is 0 is one the file does not hold. */
const FINISHED = 1
const OK = 2
const RETRIABLE = 4

/** What the table keeps of a line: three bits of its entry's tag. */
const tagOf = (seen: Records.Seen): number => FINISHED | (seen.ok ? OK : 0) | (seen.retriable ? RETRIABLE : 0)

/**
 * Decides, line by line, what to keep; the same decision drives the scan and the rewrite. The finished ids go into
 * `finished` (their text and a tag each), not a Map of strings and objects.
 */
const classify = (options: Options, finished: KeyTable) => ({
  finished,
  keep: (text: string): "keep" | "unreadable" | "dropped" => {
    const seen = Records.readBack(text)
    if (seen === undefined || finished.has(seen.key)) return "unreadable"
    if (options.retryFailed && seen.retriable) return "dropped"
    finished.setTagAt(finished.add(seen.key), tagOf(seen))
    return "keep"
  }
})

/** The table of a run's ids, sized once for the ids the run expects. */
const tableFor = (options: Options): KeyTable => new KeyTable(options.hash, options.expectedIds)

const scan = (path: string, options: Options): Scan => {
  const decide = classify(options, tableFor(options))
  let goodEnd = 0
  let torn = false
  let unreadable = 0
  let dropped = 0
  const fd = Fs.openSync(path, "r")
  try {
    for (const line of linesOf(fd)) {
      if (!line.terminated) {
        torn = true
        break
      }
      goodEnd = line.end
      const verdict = decide.keep(line.text)
      if (verdict === "unreadable") unreadable++
      else if (verdict === "dropped") dropped++
    }
  } finally {
    Fs.closeSync(fd)
  }
  return { finished: decide.finished, goodEnd, torn, unreadable, dropped }
}

/**
 * Writes the kept lines to a temporary file and renames it over the original, so a kill never loses both. Fills
 * `finished` (the scan's table, emptied: no second table) again with the same ids the scan found.
 */
const rewrite = (path: string, options: Options, finished: KeyTable): void => {
  finished.clear()
  const decide = classify(options, finished)
  const temporary = `${path}.rewrite-${process.pid}`
  const input = Fs.openSync(path, "r")
  const output = Fs.openSync(temporary, "w")
  try {
    for (const line of linesOf(input)) {
      if (!line.terminated) break
      if (decide.keep(line.text) === "keep") writeAll(output, `${line.text}\n`)
    }
    Fs.fsyncSync(output)
  } finally {
    Fs.closeSync(input)
    Fs.closeSync(output)
  }
  Fs.renameSync(temporary, path)
}

const writeAll = (fd: number, text: string): void => {
  const bytes = Buffer.from(text, "utf8")
  let offset = 0
  while (offset < bytes.length) offset += Fs.writeSync(fd, bytes, offset, bytes.length - offset)
}

const recover = (path: string, options: Options): { finished: KeyTable; recovery: Recovery } => {
  if (options.fresh || !Fs.existsSync(path)) {
    Fs.writeFileSync(path, "")
    return {
      finished: tableFor(options),
      recovery: { kept: 0, tornLineRemoved: false, unreadableRemoved: 0, failedDropped: 0 }
    }
  }
  const found = scan(path, options)
  const finished = found.finished
  if (found.unreadable > 0 || found.dropped > 0) rewrite(path, options, finished)
  else if (found.torn) Fs.truncateSync(path, found.goodEnd)
  return {
    finished,
    recovery: {
      kept: finished.size,
      tornLineRemoved: found.torn,
      unreadableRemoved: found.unreadable,
      failedDropped: found.dropped
    }
  }
}

/**
 * Opens the results file for a run: takes the lock, reads back and repairs what earlier runs wrote, and opens it
 * for appending. Closing the scope syncs and closes the file and releases the lock.
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = (path: string, options: Options): Effect.Effect<Journal, UsageError, Scope.Scope> =>
  Effect.gen(function* () {
    // Every step works on the file itself: a link to it takes the same lock, and the rewrite replaces the file.
    const target = yield* Effect.try({
      try: () => Paths.resolveTarget(path),
      catch: (error) => new UsageError({ message: `cannot find the results file ${path}: ${describe(error)}` })
    })
    yield* Lock.acquire(target)
    const { finished, recovery } = yield* Effect.try({
      try: () => recover(target, options),
      catch: (error) => new UsageError({ message: `cannot prepare the results file ${path}: ${describe(error)}` })
    })
    const fd = yield* Effect.acquireRelease(
      Effect.try({
        try: () => Fs.openSync(target, "a"),
        catch: (error) => new UsageError({ message: `cannot open the results file ${path}: ${describe(error)}` })
      }),
      (fd) =>
        Effect.sync(() => {
          try {
            Fs.fsyncSync(fd)
          } finally {
            Fs.closeSync(fd)
          }
        })
    )
    const append = (record: Records.ResultLine) =>
      Effect.try({
        try: () => writeAll(fd, `${Records.encode(record)}\n`),
        catch: (error) => new UsageError({ message: `cannot write to the results file ${path}: ${describe(error)}` })
      })
    const lookUp = (key: string): Records.Seen | undefined => {
      const entry = finished.entryOf(key)
      const tag = entry < 0 ? 0 : finished.tagAt(entry)
      return tag === 0 ? undefined : { key, ok: (tag & OK) !== 0, retriable: (tag & RETRIABLE) !== 0 }
    }
    return { path, recovery, finished: lookUp, ids: finished, append } satisfies Journal
  })
