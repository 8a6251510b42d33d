import { describe, expect, it } from "@effect/vitest"
import * as HeapPolicy from "../src/heapPolicy.js"

describe("HeapPolicy", () => {
  it("leaves a growing factor chosen on node's command line alone, in either spelling", () => {
    expect(HeapPolicy.chosenByNode(["--heap-growing-percent=50"])).toBe(true)
    expect(HeapPolicy.chosenByNode(["--import", "tsx", "--heap_growing_percent=50"])).toBe(true)
    expect(HeapPolicy.apply(["--heap-growing-percent=50"])).toBe(false)
  })

  it("applies its own otherwise", () => {
    expect(HeapPolicy.chosenByNode(["--import", "tsx", "--max-old-space-size=512"])).toBe(false)
    expect(HeapPolicy.apply([])).toBe(true)
  })
})
