import { describe, expect, it } from "@effect/vitest"
import * as PriorityQueue from "../src/internal/admission/priorityQueue.js"

describe("PriorityQueue", () => {
  it("serves the best class first and each class in arrival order", () => {
    const queue = PriorityQueue.make<string>(3)
    queue.push("low-1", 2)
    queue.push("high-1", 0)
    queue.push("mid-1", 1)
    queue.push("high-2", 0)
    expect(queue.toArray()).toEqual(["high-1", "high-2", "mid-1", "low-1"])
    expect(queue.peek()?.value).toBe("high-1")
    expect(queue.size).toBe(4)
    expect(queue.sizeOf(0)).toBe(2)
  })

  it("removes any entry once, in constant time", () => {
    const queue = PriorityQueue.make<number>(2)
    const entries = Array.from({ length: 5 }, (_, i) => queue.push(i, i % 2))
    expect(queue.remove(entries[2]!)).toBe(true)
    expect(queue.remove(entries[2]!)).toBe(false)
    expect(entries[2]!.queued).toBe(false)
    expect(queue.toArray()).toEqual([0, 4, 1, 3])
    queue.remove(entries[0]!)
    queue.remove(entries[4]!)
    expect(queue.peek()?.value).toBe(1)
  })

  it("walks entries in service order with next, even while removing them", () => {
    const queue = PriorityQueue.make<string>(3)
    const low = queue.push("low-1", 2)
    const high = queue.push("high-1", 0)
    queue.push("high-2", 0)
    const walked: Array<string> = []
    for (let entry = queue.peek(); entry !== undefined;) {
      const following = queue.next(entry)
      walked.push(entry.value)
      if (entry.value === "high-2") queue.remove(entry)
      entry = following
    }
    expect(walked).toEqual(["high-1", "high-2", "low-1"])
    expect(queue.next(low)).toBeUndefined()
    queue.remove(high)
    expect(queue.next(high)).toBeUndefined()
    expect(queue.toArray()).toEqual(["low-1"])
  })

  it("sheds the newest entry of the worst class", () => {
    const queue = PriorityQueue.make<string>(3)
    queue.push("a", 1)
    queue.push("b", 2)
    queue.push("c", 2)
    expect(queue.lowestRank()).toBe(2)
    expect(queue.popLowest()?.value).toBe("c")
    expect(queue.popLowest()?.value).toBe("b")
    expect(queue.lowestRank()).toBe(1)
    expect(queue.popLowest()?.value).toBe("a")
    expect(queue.popLowest()).toBeUndefined()
    expect(queue.size).toBe(0)
  })

  it("handles 100,000 pushes and removals in linear time", () => {
    const queue = PriorityQueue.make<number>(4)
    const entries = Array.from({ length: 100_000 }, (_, i) => queue.push(i, i % 4))
    for (let i = 0; i < entries.length; i += 2) queue.remove(entries[i]!)
    expect(queue.size).toBe(50_000)
    expect(queue.peek()?.value).toBe(1)
    let taken = 0
    for (let entry = queue.peek(); entry !== undefined; entry = queue.peek()) {
      queue.remove(entry)
      taken++
    }
    expect(taken).toBe(50_000)
  })

  it("refuses a rank outside its classes", () => {
    expect(() => PriorityQueue.make<number>(2).push(1, 2)).toThrow(RangeError)
  })
})
