/**
 * A throwaway `redis-server` for the Redis tests and the benchmark: a free port on 127.0.0.1, no persistence, so
 * that tests can kill, pause and restart it. The machine's own Redis is never used.
 *
 * Without the binary the tests use `REDIS_URL` if set (see `describeRedis` in `support.ts`). No vitest import here:
 * the benchmark uses this file too.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as net from "node:net"

/** A server this process started. */
export interface RedisServer {
  readonly url: string
  readonly port: number
  /** SIGTERM, and wait for the exit. */
  readonly stop: () => Promise<void>
  /** SIGKILL, and wait for the exit: a crash. */
  readonly kill: () => Promise<void>
  /** Starts it again on the same port (empty unless started with `appendOnlyDir`). */
  readonly restart: () => Promise<void>
  /** SIGSTOP: the server holds connections but answers nothing (a slow Redis). */
  readonly pause: () => void
  /** SIGCONT. */
  readonly resume: () => void
}

const binary = process.env.REDIS_SERVER_BIN ?? "redis-server"

/** Whether a `redis-server` binary runs here. */
export const hasBinary = (): boolean => {
  const probe = spawnSync(binary, ["--version"], { encoding: "utf8" })
  return probe.status === 0 && /Redis server/i.test(probe.stdout)
}

/** A port nobody listens on now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Sends PING over a raw socket; true when `+PONG` comes back within `timeoutMillis`. */
const ping = (port: number, timeoutMillis = 200): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMillis, () => done(false))
    socket.once("error", () => done(false))
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")))
  })

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()))

/**
 * Starts `redis-server` on a free port (or the one given) and waits until it answers PING. With `appendOnlyDir` the
 * server keeps an append-only file there (`appendonly yes`), so that a restart keeps what it had acknowledged.
 */
export const startRedis = async (
  options: { readonly port?: number; readonly appendOnlyDir?: string } = {}
): Promise<RedisServer> => {
  const port = options.port ?? (await freePort())
  const persistence =
    options.appendOnlyDir === undefined
      ? ["--appendonly", "no"]
      : ["--appendonly", "yes", "--dir", options.appendOnlyDir]
  let child: ChildProcess | undefined
  const launch = async () => {
    const started = spawn(
      binary,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", ...persistence, "--protected-mode", "no"],
      { stdio: "ignore" }
    )
    child = started
    const deadline = Date.now() + 5_000
    while (Date.now() < deadline) {
      if (started.exitCode !== null) throw new Error(`redis-server exited with code ${started.exitCode}`)
      if (await ping(port)) return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    started.kill("SIGKILL")
    throw new Error(`redis-server did not answer on port ${port} within 5 s`)
  }
  const signal = async (name: NodeJS.Signals) => {
    const current = child
    if (current === undefined) return
    current.kill("SIGCONT")
    current.kill(name)
    await exited(current)
    child = undefined
  }
  await launch()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => signal("SIGTERM"),
    kill: () => signal("SIGKILL"),
    restart: async () => {
      await signal("SIGKILL")
      await launch()
    },
    pause: () => void child?.kill("SIGSTOP"),
    resume: () => void child?.kill("SIGCONT")
  }
}

/** How the Redis tests get a server here. */
export type Availability =
  | { readonly kind: "binary" }
  | { readonly kind: "url"; readonly url: string }
  | { readonly kind: "none"; readonly reason: string }

export const availability = (): Availability => {
  if (hasBinary()) return { kind: "binary" }
  const url = process.env.REDIS_URL
  if (url !== undefined && url !== "") return { kind: "url", url }
  return { kind: "none", reason: `no ${binary} binary on PATH and REDIS_URL is not set` }
}

/** A server for one test file: its own when the binary is here, else the one at REDIS_URL (never stopped). */
export const acquireServer = async (): Promise<{
  readonly url: string
  readonly own?: RedisServer
  close(): Promise<void>
}> => {
  const found = availability()
  if (found.kind === "url") return { url: found.url, close: async () => {} }
  const own = await startRedis()
  return { url: own.url, own, close: () => own.stop() }
}
