import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Lock from "../src/lock.js"
import { tempDir } from "./support.js"

const dir = tempDir()
let n = 0
/** A fresh directory holding one results path; returns the lock path. */
const lockFile = (content?: string) => {
  const sub = Path.join(dir, `case-${n++}`)
  Fs.mkdirSync(sub)
  const lockPath = Path.join(sub, "results.jsonl.lock")
  if (content !== undefined) Fs.writeFileSync(lockPath, content)
  return lockPath
}
const leftovers = (lockPath: string) =>
  Fs.readdirSync(Path.dirname(lockPath)).filter((name) => name !== "results.jsonl.lock")

/** The pid of a process that has exited. */
let deadPid = 0
beforeAll(async () => {
  const child = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" })
  await new Promise((resolve) => child.once("exit", resolve))
  deadPid = child.pid!
})
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

// Two fake runs of this process, told apart by the pid they write; both count as running.
const pidA = 1_000_001
const pidB = 1_000_002
const aliveOf = (pid: number) => pid === pidA || pid === pidB || Lock.isAlive(pid)

describe("Lock", () => {
  it("takes a free lock, writing the pid, and leaves no temporary file", () => {
    const lockPath = lockFile()
    expect(Lock.tryAcquire(lockPath, { pid: pidA, isAlive: aliveOf })).toEqual({ _tag: "Acquired" })
    expect(Fs.readFileSync(lockPath, "utf8")).toBe(`${pidA}\n`)
    expect(leftovers(lockPath)).toEqual([])
    expect(Lock.tryAcquire(lockPath, { pid: pidB, isAlive: aliveOf })).toEqual({ _tag: "Held", holder: pidA })
  })

  it("treats an empty lock (being created) as held, never as stale", () => {
    for (const content of ["", "\n", "12ab\n"]) {
      const lockPath = lockFile(content)
      expect(Lock.tryAcquire(lockPath, { pid: pidA, isAlive: aliveOf })).toEqual({ _tag: "Held", holder: undefined })
      expect(Fs.readFileSync(lockPath, "utf8")).toBe(content)
    }
  })

  it.scoped("acquire looks again at a lock that holds no pid yet, then fails as held by another run", () =>
    Effect.gen(function* () {
      const lockPath = lockFile("")
      const path = lockPath.slice(0, -".lock".length)
      const fiber = yield* Effect.fork(Effect.exit(Lock.acquire(path, { pid: pidA, creatingRetries: 3 })))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(JSON.stringify(exit)).toContain("another run")
      expect(Fs.readFileSync(lockPath, "utf8")).toBe("")
    })
  )

  it.scoped("acquire takes the lock once the one being created turns out stale", () =>
    Effect.gen(function* () {
      const lockPath = lockFile("")
      const path = lockPath.slice(0, -".lock".length)
      const fiber = yield* Effect.fork(Lock.acquire(path, { pid: pidA, isAlive: aliveOf }))
      yield* TestClock.adjust("10 millis")
      Fs.writeFileSync(lockPath, `${deadPid}\n`)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(Fs.readFileSync(lockPath, "utf8")).toBe(`${pidA}\n`)
    })
  )

  it("takes over a stale lock (its pid is not running)", () => {
    expect(Lock.isAlive(deadPid)).toBe(false)
    const lockPath = lockFile(`${deadPid}\n`)
    expect(Lock.tryAcquire(lockPath, { pid: pidA, isAlive: aliveOf })).toEqual({ _tag: "Acquired" })
    expect(Fs.readFileSync(lockPath, "utf8")).toBe(`${pidA}\n`)
    expect(leftovers(lockPath)).toEqual([])
  })

  it("takes over a lock holding its own pid, left by an earlier process with that pid", () => {
    const lockPath = lockFile(`${pidA}\n`)
    expect(Lock.tryAcquire(lockPath, { pid: pidA, isAlive: aliveOf })).toEqual({ _tag: "Acquired" })
  })

  it("two runs taking over one stale lock at once: exactly one wins", () => {
    const lockPath = lockFile(`${deadPid}\n`)
    // A sees the stale pid; before A moves the lock, B sees it too and takes it over completely.
    let b: Lock.Attempt | undefined
    const aliveForA = (pid: number) => {
      if (pid === deadPid && b === undefined) b = Lock.tryAcquire(lockPath, { pid: pidB, isAlive: aliveOf })
      return aliveOf(pid)
    }
    const a = Lock.tryAcquire(lockPath, { pid: pidA, isAlive: aliveForA })
    expect(b).toEqual({ _tag: "Acquired" })
    expect(a).toEqual({ _tag: "Held", holder: pidB })
    // A moved B's fresh lock aside, saw it was not the stale one, and put it back.
    expect(Fs.readFileSync(lockPath, "utf8")).toBe(`${pidB}\n`)
    expect(leftovers(lockPath)).toEqual([])
    expect(Lock.release(lockPath, pidA)).toBe(false)
    expect(Lock.release(lockPath, pidB)).toBe(true)
  })

  it("a takeover that finds the lock gone creates its own", () => {
    const lockPath = lockFile(`${deadPid}\n`)
    // The stale lock disappears (another run released it) between A's look and A's rename.
    const aliveForA = (pid: number) => {
      if (pid === deadPid) Fs.rmSync(lockPath, { force: true })
      return aliveOf(pid)
    }
    expect(Lock.tryAcquire(lockPath, { pid: pidA, isAlive: aliveForA })).toEqual({ _tag: "Acquired" })
    expect(Fs.readFileSync(lockPath, "utf8")).toBe(`${pidA}\n`)
  })

  it("release removes only a lock that holds its own pid", () => {
    const lockPath = lockFile(`${pidB}\n`)
    expect(Lock.release(lockPath, pidA)).toBe(false)
    expect(Fs.readFileSync(lockPath, "utf8")).toBe(`${pidB}\n`)
    Fs.writeFileSync(lockPath, "")
    expect(Lock.release(lockPath, pidA)).toBe(false)
    expect(Fs.existsSync(lockPath)).toBe(true)
    Fs.writeFileSync(lockPath, `${pidA}\n`)
    expect(Lock.release(lockPath, pidA)).toBe(true)
    expect(Fs.existsSync(lockPath)).toBe(false)
    expect(Lock.release(lockPath, pidA)).toBe(false)
  })

  it.scoped("the scope releases the lock it took, and not one another run took since", () =>
    Effect.gen(function* () {
      const lockPath = lockFile()
      const path = lockPath.slice(0, -".lock".length)
      yield* Effect.scoped(Lock.acquire(path, { pid: pidA, isAlive: aliveOf }))
      expect(Fs.existsSync(lockPath)).toBe(false)
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Lock.acquire(path, { pid: pidA, isAlive: aliveOf })
          Fs.writeFileSync(lockPath, `${pidB}\n`)
        })
      )
      expect(Fs.readFileSync(lockPath, "utf8")).toBe(`${pidB}\n`)
    })
  )
})
