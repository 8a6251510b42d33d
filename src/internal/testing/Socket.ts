/**
 * The socket front end of the fake Grok server: a real HTTP server on 127.0.0.1 (`node:http`) on the wall clock.
 * It feeds each request to the engine, waits with timers, writes whole bodies or SSE frames, and records when a
 * client closes a stream before the server ended it.
 */
import { randomUUID } from "node:crypto"
import * as Http from "node:http"
import type { Socket } from "node:net"
import { performance } from "node:perf_hooks"
import type { Streamed } from "./Answer.js"
import * as Engine from "./Engine.js"

export interface Listening {
  /** Base URL including `/v1`. */
  readonly url: string
  /** Stops the server, destroying open connections. Safe to call twice. */
  readonly close: () => Promise<void>
}

/** The engine's view of now: monotonic time for quotas, wall time for dates, UUIDs from `node:crypto`. */
export const socketEnv = (): Engine.Env => {
  const wallMillis = Date.now()
  return {
    nowMillis: performance.now(),
    wallMillis,
    ids: { next: randomUUID, createdSeconds: Math.floor(wallMillis / 1000) }
  }
}

/** The path of a request target without query or fragment; an absolute-form target gives its URL's path. */
export const pathOf = (target: string): string => {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    try {
      return new URL(target).pathname
    } catch {
      return target
    }
  }
  return target.split(/[?#]/)[0] ?? target
}

/** The query string of a request target, `?` included; empty without one. */
const queryOf = (target: string): string => {
  const start = target.indexOf("?")
  return start < 0 ? "" : target.slice(start).split("#")[0]!
}

interface Timers {
  readonly schedule: (delayMillis: number, run: () => void) => void
  readonly closing: () => boolean
}

/** Writes the frames one by one, `chunkMillis` apart, then ends the body or, for a stall, leaves it open. */
const writeStream = (
  res: Http.ServerResponse,
  { frames, end }: Streamed,
  reply: Engine.Reply,
  { schedule, closing }: Timers
) => {
  res.on("close", () => {
    if (!res.writableEnded && !closing()) reply.progress.clientClosed()
  })
  res.writeHead(reply.status, reply.headers)
  res.flushHeaders()
  let index = 0
  const step = () => {
    while (!res.destroyed && index < frames.length) {
      res.write(frames[index++])
      reply.progress.sent()
      if (reply.chunkMillis > 0) return schedule(reply.chunkMillis, step)
    }
    if (!res.destroyed && end === "close") {
      res.end()
      reply.progress.ended()
    }
  }
  if (reply.chunkMillis > 0) schedule(reply.chunkMillis, step)
  else step()
}

const write = (req: Http.IncomingMessage, res: Http.ServerResponse, reply: Engine.Reply, timers: Timers) => {
  if (reply.reset) return void req.socket.destroy()
  if (res.destroyed) return
  if (reply.body._tag === "Stream") return writeStream(res, reply.body, reply, timers)
  res.writeHead(reply.status, { ...reply.headers, "content-length": String(Buffer.byteLength(reply.body.text)) })
  res.end(reply.body.text)
}

/** Starts listening on a free port of 127.0.0.1, answering every request through `engine`. */
export const listen = (engine: Engine.Engine): Promise<Listening> => {
  const sockets = new Set<Socket>()
  const timers = new Set<ReturnType<typeof setTimeout>>()
  let closing: Promise<void> | undefined

  const pending: Timers = {
    schedule: (delayMillis, run) => {
      if (closing) return
      const timer = setTimeout(() => {
        timers.delete(timer)
        run()
      }, delayMillis)
      timers.add(timer)
    },
    closing: () => closing !== undefined
  }

  const server = Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    let bytes = 0
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length
      // Past the limit the upload is read to its end but not kept: the answer is a 413.
      if (bytes <= Engine.MAX_BODY_BYTES) chunks.push(chunk)
      else chunks.length = 0
    })
    req.on("error", () => req.socket.destroy())
    req.on("end", () => {
      const reply = engine.handle(
        {
          method: req.method ?? "GET",
          path: pathOf(req.url ?? "/"),
          query: queryOf(req.url ?? "/"),
          authorization: req.headers.authorization,
          body: bytes > Engine.MAX_BODY_BYTES ? "" : Buffer.concat(chunks).toString("utf8"),
          tooLarge: bytes > Engine.MAX_BODY_BYTES
        },
        socketEnv()
      )
      if (reply.delayMillis <= 0) write(req, res, reply, pending)
      else pending.schedule(reply.delayMillis, () => write(req, res, reply, pending))
    })
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })

  const close = () => {
    closing ??= new Promise<void>((done) => {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      server.close(() => done())
      server.closeAllConnections()
      for (const socket of sockets) socket.destroy()
    })
    return closing
  }

  return new Promise<Listening>((ready, fail) => {
    server.once("error", fail)
    server.listen(0, "127.0.0.1", () => {
      server.off("error", fail)
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      ready({ url: `http://127.0.0.1:${port}/v1`, close })
    })
  })
}
