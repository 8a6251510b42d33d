import { Effect } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

/** What a hostile handler sees of one request. */
export interface Seen {
  readonly method: string
  readonly url: string
  readonly authorization: string | undefined
  readonly body: string
}

/**
 * A loopback HTTP server whose every answer is written by `handle`, for tests of servers that misbehave in ways
 * the fake Grok does not model (echoed keys, redirects, huge or compressed bodies, absurd headers).
 */
export const hostileServer = (handle: (seen: Seen, response: Http.ServerResponse, index: number) => void) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly seen: Array<Seen>; readonly server: Http.Server }>((resume) => {
      const seen: Array<Seen> = []
      const server = Http.createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const entry = {
            method: request.method ?? "",
            url: request.url ?? "",
            authorization: request.headers.authorization,
            body: Buffer.concat(chunks).toString("utf8")
          }
          seen.push(entry)
          handle(entry, response, seen.length - 1)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}/v1`, seen, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

export const completionBody = (content = "ok") =>
  JSON.stringify({
    id: "c-1",
    object: "chat.completion",
    created: 1,
    model: "grok-4",
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }
  })
