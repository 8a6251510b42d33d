/**
 * Folds the chunks of a streamed chat completion into the `ChatCompletion` the same request would have returned
 * unstreamed: content and reasoning joined per choice, tool-call argument deltas merged by their `index`, the
 * finish reason, and the usage of the last chunk that had one. The result goes through `GrokApi.ChatCompletion`'s
 * own decoder, so what it returns is exactly what a plain answer would have been, or a typed error.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Stream from "effect/Stream"
import * as GrokApi from "../../GrokApi.js"
import * as GrokError from "../../GrokError.js"

interface ToolCallParts {
  id?: string
  type?: string
  name: string
  arguments: Array<string>
}

interface ChoiceParts {
  role?: string
  content?: Array<string>
  reasoning?: Array<string>
  toolCalls: Map<number, ToolCallParts>
  finishReason: string | null
}

export interface ChatCollector {
  readonly add: (chunk: GrokApi.ChatCompletionChunk) => void
  readonly result: () => Either.Either<GrokApi.ChatCompletion, GrokError.Transient>
}

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)

/** Which accumulated call a delta continues: its `index`, else the call with its `id`, else a new one. */
const slotOf = (calls: Map<number, ToolCallParts>, delta: Record<string, unknown>): number => {
  if (typeof delta.index === "number") return delta.index
  const id = text(delta.id)
  for (const [slot, call] of calls) if (id !== undefined && call.id === id) return slot
  return calls.size === 0 ? 0 : Math.max(...calls.keys()) + 1
}

const addToolCall = (calls: Map<number, ToolCallParts>, delta: unknown) => {
  if (!Predicate.isRecord(delta)) return
  const slot = slotOf(calls, delta)
  const call = calls.get(slot) ?? { name: "", arguments: [] }
  const fn = Predicate.isRecord(delta.function) ? delta.function : {}
  const id = text(delta.id)
  const type = text(delta.type)
  if (call.id === undefined && id !== undefined) call.id = id
  if (call.type === undefined && type !== undefined) call.type = type
  if (call.name === "") call.name = text(fn.name) ?? ""
  const args = text(fn.arguments)
  if (args !== undefined) call.arguments.push(args)
  calls.set(slot, call)
}

const choiceOf = (choices: Map<number, ChoiceParts>, index: number): ChoiceParts => {
  const existing = choices.get(index)
  if (existing !== undefined) return existing
  const created: ChoiceParts = { toolCalls: new Map(), finishReason: null }
  choices.set(index, created)
  return created
}

const message = (choice: ChoiceParts) => ({
  role: choice.role ?? "assistant",
  content: choice.content?.join("") ?? null,
  ...(choice.reasoning !== undefined ? { reasoning_content: choice.reasoning.join("") } : {}),
  ...(choice.toolCalls.size > 0
    ? {
        tool_calls: [...choice.toolCalls.entries()]
          .sort(([a], [b]) => a - b)
          .map(([index, call]) => ({
            ...(call.id !== undefined ? { id: call.id } : {}),
            type: call.type ?? "function",
            index,
            function: { name: call.name, arguments: call.arguments.join("") }
          }))
      }
    : {})
})

export const chatCollector = (): ChatCollector => {
  const choices = new Map<number, ChoiceParts>()
  let first: GrokApi.ChatCompletionChunk | undefined
  let last: GrokApi.ChatCompletionChunk | undefined
  let usage: GrokApi.Usage | undefined

  const add = (chunk: GrokApi.ChatCompletionChunk) => {
    first ??= chunk
    last = chunk
    if (chunk.usage !== undefined && chunk.usage !== null) usage = chunk.usage
    for (const { delta, finish_reason, index } of chunk.choices) {
      const choice = choiceOf(choices, index)
      if (choice.role === undefined && delta.role !== undefined) choice.role = delta.role
      if (typeof delta.content === "string") (choice.content ??= []).push(delta.content)
      if (typeof delta.reasoning_content === "string") (choice.reasoning ??= []).push(delta.reasoning_content)
      for (const call of delta.tool_calls ?? []) addToolCall(choice.toolCalls, call)
      if (finish_reason !== undefined && finish_reason !== null) choice.finishReason = finish_reason
    }
  }

  const result = (): Either.Either<GrokApi.ChatCompletion, GrokError.Transient> => {
    const completion = {
      id: first?.id,
      object: "chat.completion",
      ...(first?.created !== undefined ? { created: first.created } : {}),
      model: first?.model,
      choices: [...choices.entries()]
        .sort(([a], [b]) => a - b)
        .map(([index, choice]) => ({ index, message: message(choice), finish_reason: choice.finishReason })),
      ...(usage !== undefined ? { usage } : {}),
      ...(last?.system_fingerprint !== undefined ? { system_fingerprint: last.system_fingerprint } : {})
    }
    return Either.mapLeft(
      GrokApi.decodeChatCompletion(completion),
      (error) =>
        new GrokError.Transient({
          reason: "MalformedBody",
          detail: `the chunks do not make a completion: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
        })
    )
  }

  return { add, result }
}

/** The completion that these chunks spell out. */
export const collectChat = (
  chunks: Iterable<GrokApi.ChatCompletionChunk>
): Either.Either<GrokApi.ChatCompletion, GrokError.Transient> => {
  const collector = chatCollector()
  for (const chunk of chunks) collector.add(chunk)
  return collector.result()
}

/** Runs a chunk stream to its end and returns the completion it spells out, holding no chunk longer than needed. */
export const collectChatStream = <E, R>(
  chunks: Stream.Stream<GrokApi.ChatCompletionChunk, E, R>
): Effect.Effect<GrokApi.ChatCompletion, E | GrokError.Transient, R> =>
  Effect.suspend(() => {
    const collector = chatCollector()
    return Stream.runForEach(chunks, (chunk) => Effect.sync(() => collector.add(chunk))).pipe(
      Effect.flatMap(() => collector.result())
    )
  })
