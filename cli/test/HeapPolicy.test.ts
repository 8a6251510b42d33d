import { describe, expect, it } from "@effect/vitest"
import * as HeapPolicy from "../src/heapPolicy.js"

describe("HeapPolicy", () => {
  it("leaves a growing factor chosen on node's command line alone, in either spelling", () => {
    expect(HeapPolicy.chosenByNode(["--heap-growing-percent=50"])).toBe(true)
    expect(HeapPolicy.chosenByNode(["--import", "tsx", "--heap_growing_percent=50"])).toBe(true)
    expect(HeapPolicy.flagsFor(["--heap-growing-percent=50"])).toEqual(["--semi-space-growth-factor=1"])
  })

  it("leaves the young generation alone when node's flags size it, in either spelling", () => {
    for (const flag of ["--max-semi-space-size=16", "--min_semi_space_size=4", "--semi-space-growth-factor=2"])
      expect(HeapPolicy.flagsFor([flag])).toEqual(["--heap-growing-percent=50"])
    expect(HeapPolicy.apply(["--heap-growing-percent=30", "--max-semi-space-size=16"])).toEqual([])
  })

  it("applies both otherwise", () => {
    expect(HeapPolicy.chosenByNode(["--import", "tsx", "--max-old-space-size=512"])).toBe(false)
    expect(HeapPolicy.apply(["--max-old-space-size=512"])).toEqual([
      "--heap-growing-percent=50",
      "--semi-space-growth-factor=1"
    ])
  })
})
