/** A minimal chat completion, for unit doubles that answer without a server. */
export const completion = {
  id: "c-1",
  object: "chat.completion",
  created: 1,
  model: "grok-4",
  choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }
}
