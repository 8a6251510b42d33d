import { describe, expect, it } from "@effect/vitest"
import { RefusalWatch } from "../src/refusal.js"

describe("RefusalWatch", () => {
  it("stops once no call has succeeded for the whole period and the server answered 429", () => {
    const watch = new RefusalWatch(60_000, 0)
    expect(watch.refused(10_000)).toBeUndefined()
    expect(watch.check(59_999)).toBeUndefined()
    const stop = watch.check(60_000)
    expect(stop).toMatchObject({ _tag: "RateLimited" })
    expect(stop?.message).toContain("the server answered 429 to every call for 1m00s (1 answers 429, no success")
    expect(watch.stop).toBe(stop)
    expect(watch.check(70_000)).toBeUndefined()
  })

  it("does not stop a run that only waits, nor one with a success within the period", () => {
    const watch = new RefusalWatch(60_000, 0)
    expect(watch.check(600_000)).toBeUndefined()
    watch.success(600_000)
    expect(watch.refused(650_000)).toBeUndefined()
    watch.success(655_000)
    expect(watch.refused(710_000)).toBeUndefined()
    expect(watch.refused(715_000)).toMatchObject({ _tag: "RateLimited" })
  })
})
