/**
 * The lock that keeps two runs from appending to the same results file: `<output>.lock`, holding the pid of the run.
 *
 * Every step that decides who holds the lock is one atomic filesystem operation, so two runs never both believe they
 * hold it:
 *
 * - Taking a free lock: the pid is written to a temporary file of our own, which is then hard-linked to the lock path
 *   (`link` fails with EEXIST when the lock exists). The lock never exists without its full content.
 * - A lock whose content is not a pid (being created by a writer that creates and then writes) counts as held, never
 *   as stale.
 * - Taking over a stale lock (its pid is not running): rename it to a name of our own, which only one run can do. The
 *   renamed file is read again to confirm it is the stale lock and not a fresh one another run took meanwhile; a
 *   fresh one is linked back.
 * - Releasing: only when the lock still holds our pid.
 *
 * What remains: a fresh lock is moved aside for a moment while it is confirmed, and a third run that finds the path
 * free at exactly that moment takes it; the run it was moved from then keeps writing without a lock file.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import { describe, UsageError } from "./errors.js"

/**
 * Who the lock is taken for, and how its holder is judged. The defaults are this process; tests inject them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The pid written to the lock. Default `process.pid`. */
  readonly pid?: number
  /** Whether a pid is a running process. Default: `process.kill(pid, 0)` succeeds or fails with EPERM. */
  readonly isAlive?: (pid: number) => boolean
  /** How many more times to look at a lock that holds no pid yet before giving up. Default 5. */
  readonly creatingRetries?: number
  /** The wait between those looks. Default 50 ms. */
  readonly creatingDelay?: Duration.DurationInput
}

/**
 * The outcome of one attempt: taken, or held by a live pid (`undefined`: the lock holds no pid yet).
 *
 * @since 0.1.0
 * @category models
 */
export type Attempt = { readonly _tag: "Acquired" } | { readonly _tag: "Held"; readonly holder: number | undefined }

const acquired: Attempt = { _tag: "Acquired" }
const held = (holder: number | undefined): Attempt => ({ _tag: "Held", holder })

/**
 * Whether a process with this pid exists (EPERM: it exists but belongs to another user).
 *
 * @since 0.1.0
 * @category utils
 */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

const codeOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code

const unique = (base: string): string => `${base}.${randomBytes(6).toString("hex")}`

/** The pid in a lock file; "creating" when the content is not a pid; "gone" when there is no such file. */
const readHolder = (path: string): number | "creating" | "gone" => {
  let text: string
  try {
    text = Fs.readFileSync(path, "utf8")
  } catch (error) {
    if (codeOf(error) === "ENOENT") return "gone"
    throw error
  }
  const match = /^\s*(\d+)\s*$/.exec(text)
  const pid = match ? Number(match[1]) : Number.NaN
  return Number.isSafeInteger(pid) && pid > 0 ? pid : "creating"
}

/** Filesystems without hard links (some network and FAT mounts) answer `link` with one of these. */
const noHardLinks = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV"])

/** Creates the lock holding `pid` if there is none; false when a lock exists. */
const create = (lockPath: string, pid: number): boolean => {
  const temporary = unique(`${lockPath}.${pid}`)
  Fs.writeFileSync(temporary, `${pid}\n`, { flag: "wx" })
  try {
    Fs.linkSync(temporary, lockPath)
    return true
  } catch (error) {
    if (codeOf(error) === "EEXIST") return false
    if (!noHardLinks.has(codeOf(error) ?? "")) throw error
  } finally {
    Fs.rmSync(temporary, { force: true })
  }
  // No hard links: create and write in two steps; a reader in between sees no pid and counts the lock as held.
  try {
    Fs.writeFileSync(lockPath, `${pid}\n`, { flag: "wx" })
    return true
  } catch (error) {
    if (codeOf(error) === "EEXIST") return false
    throw error
  }
}

/**
 * Moves a stale lock out of the way. `undefined`: it is gone (moved by us or by another run), try to create the lock
 * again; otherwise the lock turned out to be held.
 */
const takeOver = (lockPath: string, stale: number, isStale: (pid: number) => boolean): Attempt | undefined => {
  const aside = unique(`${lockPath}.stale.${process.pid}`)
  try {
    Fs.renameSync(lockPath, aside)
  } catch (error) {
    if (codeOf(error) === "ENOENT") return undefined
    throw error
  }
  try {
    const moved = readHolder(aside)
    if (moved === "gone" || moved === stale || (moved !== "creating" && isStale(moved))) return undefined
    // Another run took the lock between our look and our rename: give it back unless the path is taken again.
    try {
      Fs.linkSync(aside, lockPath)
    } catch (error) {
      if (codeOf(error) !== "EEXIST") throw error
    }
    return held(moved === "creating" ? undefined : moved)
  } finally {
    Fs.rmSync(aside, { force: true })
  }
}

/**
 * One attempt to take the lock at `lockPath`, without waiting. Throws what the filesystem throws.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tryAcquire = (lockPath: string, options: Options = {}): Attempt => {
  const pid = options.pid ?? process.pid
  const alive = options.isAlive ?? isAlive
  // Our own pid in a lock is a lock left by an earlier process that had the same pid (containers reuse small pids).
  const isStale = (holder: number) => holder === pid || !alive(holder)
  for (let attempt = 0; attempt < 5; attempt++) {
    if (create(lockPath, pid)) return acquired
    const holder = readHolder(lockPath)
    if (holder === "gone") continue
    if (holder === "creating") return held(undefined)
    if (!isStale(holder)) return held(holder)
    const outcome = takeOver(lockPath, holder, isStale)
    if (outcome !== undefined) return outcome
  }
  throw new Error(`could not take the lock ${lockPath}: other runs keep taking and dropping it`)
}

/**
 * Removes the lock at `lockPath` if it still holds `pid`; whether it did.
 *
 * @since 0.1.0
 * @category destructors
 */
export const release = (lockPath: string, pid: number = process.pid): boolean => {
  try {
    if (readHolder(lockPath) !== pid) return false
    Fs.rmSync(lockPath, { force: true })
    return true
  } catch {
    return false
  }
}

const heldError = (path: string, lockPath: string, holder: number | undefined): UsageError =>
  new UsageError({
    message:
      holder === undefined
        ? `${path} is being written by another run (its lock ${lockPath} holds no pid yet). Wait for it, or delete ` +
          `${lockPath} if no grok-resilience run is writing ${path}`
        : `${path} is being written by another run (pid ${holder}). Wait for it, or delete ${lockPath} if that ` +
          `process is not a grok-resilience run`
  })

/**
 * Takes the lock of the results file `path` (`<path>.lock`) for the scope, failing when another run holds it; a lock
 * that holds no pid yet is looked at again a few times first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const acquire = (path: string, options: Options = {}): Effect.Effect<void, UsageError, Scope.Scope> => {
  const lockPath = `${path}.lock`
  const pid = options.pid ?? process.pid
  const delay = options.creatingDelay ?? Duration.millis(50)
  const attempt = Effect.try({
    try: () => tryAcquire(lockPath, options),
    catch: (error) => new UsageError({ message: `cannot take the lock ${lockPath}: ${describe(error)}` })
  })
  const take = (retriesLeft: number): Effect.Effect<void, UsageError> =>
    Effect.flatMap(attempt, (result) => {
      if (result._tag === "Acquired") return Effect.void
      if (result.holder === undefined && retriesLeft > 0) {
        return Effect.zipRight(Effect.sleep(delay), take(retriesLeft - 1))
      }
      return Effect.fail(heldError(path, lockPath, result.holder))
    })
  // Also released when the process exits without closing the scope (a second Ctrl-C exits at once).
  const onExit = () => void release(lockPath, pid)
  return Effect.acquireRelease(
    Effect.tap(take(options.creatingRetries ?? 5), () => Effect.sync(() => process.once("exit", onExit))),
    () =>
      Effect.sync(() => {
        process.removeListener("exit", onExit)
        release(lockPath, pid)
      })
  )
}
