/**
 * The fake Grok server in its own process, so that the CPU a benchmark measures in its own process is the
 * client's alone: `tsx bench/support/fake-server.ts '<scenario JSON>'` prints `{ url, apiKey }` as one line and
 * serves until its stdin closes.
 */
import { FakeGrok } from "../../src/testing/index.js"

const main = async () => {
  const server = await FakeGrok.start(JSON.parse(process.argv[2] ?? "{}"))
  process.stdout.write(JSON.stringify({ url: server.url, apiKey: server.apiKey }) + "\n")
  process.stdin.resume()
  process.stdin.on("end", () => void server.close().then(() => process.exit(0)))
}

void main()
