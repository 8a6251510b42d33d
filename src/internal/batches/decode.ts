/**
 * Reads the `batch_result` of one result item: `{ response: { chat_get_completion } }` or `{ error }`. Read item by
 * item so that one strange item fails alone, not its whole page.
 */
import * as Either from "effect/Either"
import * as Predicate from "effect/Predicate"
import { type ChatCompletion, decodeChatCompletion } from "../../GrokApi.js"

/** What one result says: the completion, or why there is none (`fromServer`: the server's own error text). */
export type Outcome =
  | { readonly _tag: "Completion"; readonly completion: ChatCompletion }
  | { readonly _tag: "Error"; readonly message: string; readonly fromServer: boolean }

const MAX_MESSAGE = 2000

const serverError = (message: string): Outcome => ({
  _tag: "Error",
  message: message.slice(0, MAX_MESSAGE),
  fromServer: true
})
const malformed = (message: string): Outcome => ({ _tag: "Error", message, fromServer: false })

export const decodeChatCompletionOf = (result: unknown): Outcome => {
  if (!Predicate.isRecord(result)) return malformed("the result carries no response and no error")
  if (typeof result.error === "string") return serverError(result.error)
  if (Predicate.isRecord(result.error) && typeof result.error.message === "string") {
    return serverError(result.error.message)
  }
  const response = result.response
  if (!Predicate.isRecord(response)) {
    return malformed(`the result's response is ${response === "unknown" ? "unknown" : "missing"}`)
  }
  if (!("chat_get_completion" in response)) {
    return malformed("the result is not a chat completion (only chat_get_completion is read)")
  }
  return Either.match(decodeChatCompletion(response.chat_get_completion), {
    onLeft: () => malformed("the result's chat completion does not match the expected schema"),
    onRight: (completion): Outcome => ({ _tag: "Completion", completion })
  })
}
