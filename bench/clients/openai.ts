/**
 * The official OpenAI Node SDK with its default settings (2 retries, its own backoff, Retry-After honoured up to
 * 60 s), pointed at the fake server: what most code calling an OpenAI-compatible API does today.
 */
import OpenAI from "openai"
import type { Contender } from "./contender.js"
import { pool } from "./contender.js"

const kindOf = (error: unknown): string =>
  error instanceof OpenAI.APIError
    ? `${error.constructor.name}${error.status !== undefined ? ` ${error.status}` : ""}`
    : error instanceof Error
      ? error.name
      : "unknown"

export const openai: Contender = {
  id: "openai",
  label: "openai SDK (defaults)",
  run: (target, plan) => {
    const client = new OpenAI({ apiKey: target.apiKey, baseURL: target.url })
    return pool(plan.calls, plan.concurrency, async (index) => {
      const { model, messages, max_completion_tokens } = plan.request(index)
      try {
        await client.chat.completions.create({
          model,
          messages: [...messages],
          ...(max_completion_tokens !== undefined ? { max_completion_tokens } : {})
        })
        return undefined
      } catch (error) {
        return kindOf(error)
      }
    })
  }
}
