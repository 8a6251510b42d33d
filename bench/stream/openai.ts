/**
 * The openai SDK row of the stream scenario: `chat.completions.create({ stream: true })` with a 2 s `timeout` and
 * its default 2 retries, 10 workers, the chunks read with `for await`. A call with no chunk (or end) for
 * `HANG_MILLIS` is counted hung and aborted through its `AbortSignal`, which closes the connection.
 */
import OpenAI from "openai"
import { type CallRecord, type End, judgeText, silenceWatch } from "./outcome.js"
import * as Scenario from "./scenario.js"

export const label = "openai SDK 6.30 streaming chat, `timeout: 2000`"

const kindOf = (error: unknown): string =>
  error instanceof OpenAI.APIError
    ? `${error.constructor.name}${error.status !== undefined ? ` ${error.status}` : ""}`
    : error instanceof Error
      ? error.name
      : "unknown"

const oneCall = async (client: OpenAI, index: number): Promise<CallRecord> => {
  const watch = silenceWatch()
  const controller = new AbortController()
  let hung = false
  let timer: NodeJS.Timeout | undefined
  const arm = () => {
    clearTimeout(timer)
    timer = setTimeout(() => {
      hung = true
      controller.abort()
    }, Scenario.HANG_MILLIS)
  }
  arm()
  try {
    const stream = await client.chat.completions.create(
      { model: Scenario.MODEL, messages: [{ role: "user", content: Scenario.prompt(index) }], stream: true },
      { signal: controller.signal }
    )
    let text = ""
    for await (const chunk of stream) {
      watch.item()
      arm()
      text += chunk.choices.find((choice) => choice.index === 0)?.delta?.content ?? ""
    }
    const end: End = hung ? { _tag: "Hung" } : judgeText(text, Scenario.expected(index))
    return watch.record(end)
  } catch (error) {
    return watch.record(hung ? { _tag: "Hung" } : { _tag: "Failed", kind: kindOf(error) })
  } finally {
    clearTimeout(timer)
  }
}

/** Runs the calls with at most `CONCURRENCY` in flight: a pool of workers taking the next index. */
export const runRow = async (
  target: { readonly url: string; readonly apiKey: string },
  calls: number
): Promise<ReadonlyArray<CallRecord>> => {
  const client = new OpenAI({ apiKey: target.apiKey, baseURL: target.url, timeout: Scenario.OPENAI_TIMEOUT_MILLIS })
  const records: Array<CallRecord> = []
  let next = 0
  const worker = async () => {
    while (next < calls) records.push(await oneCall(client, next++))
  }
  await Promise.all(Array.from({ length: Math.min(Scenario.CONCURRENCY, calls) }, worker))
  return records
}
