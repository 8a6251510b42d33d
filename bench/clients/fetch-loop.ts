/**
 * The hand-written retry loop of the popular guides: up to 5 attempts, and after a 429 or a 5xx a sleep of
 * `1 s · 2^attempt + random(0..1 s)`, ignoring `Retry-After`. No sleep after the fifth attempt: the call fails.
 */
import type { Contender } from "./contender.js"
import { pool } from "./contender.js"

const ATTEMPTS = 5

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

export const fetchLoop: Contender = {
  id: "fetch",
  label: "fetch loop (1 s·2^n + jitter, 5 attempts)",
  run: (target, plan) =>
    pool(plan.calls, plan.concurrency, async (index) => {
      const body = JSON.stringify(plan.request(index))
      let last = "no attempt"
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        let status: number
        try {
          const response = await fetch(`${target.url}/chat/completions`, {
            method: "POST",
            headers: { authorization: `Bearer ${target.apiKey}`, "content-type": "application/json" },
            body
          })
          await response.text()
          status = response.status
        } catch {
          status = 0
        }
        if (status >= 200 && status < 300) return undefined
        last = status === 0 ? "network error" : `HTTP ${status}`
        const retryable = status === 0 || status === 429 || status >= 500
        if (!retryable) return last
        if (attempt < ATTEMPTS - 1) await sleep(1000 * 2 ** attempt + Math.random() * 1000)
      }
      return `${last} after ${ATTEMPTS} attempts`
    })
}
