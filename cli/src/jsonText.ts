/**
 * One pass over the text of a JSON line before it is parsed: how deeply it nests, and the exact text of its
 * top-level `"id"` member. The pass is a loop, never recursive, so a line nesting 100,000 levels costs one scan and
 * is refused before any recursive code (decoding, error formatting, logging, `JSON.stringify`) sees it. The id's
 * text is kept as written, because `JSON.parse` rounds a number like `12345678901234567890` and turns `-0` into `0`.
 *
 * The text is assumed to be valid JSON (the caller parses it too and refuses it when it is not); on invalid text the
 * outline is meaningless but the scan still ends.
 *
 * @since 0.2.0
 */

/**
 * What the scan found.
 *
 * @since 0.2.0
 * @category models
 */
export type Outline =
  | {
      readonly _tag: "Outline"
      /** Deepest nesting of arrays and objects (`{}` is 1). */
      readonly depth: number
      /** The text of the top-level `"id"` member's value, as written; undefined when there is none. */
      readonly id: string | undefined
      /** How many top-level members are named `"id"` (JSON.parse would silently keep the last). */
      readonly idMembers: number
    }
  | { readonly _tag: "TooDeep"; readonly limit: number }

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a
const COMMA = 0x2c

const isOpen = (c: number): boolean => c === 0x7b || c === 0x5b
const isClose = (c: number): boolean => c === 0x7d || c === 0x5d
const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d

/** The index just past the string literal that starts at `start` (its opening quote). */
const endOfString = (text: string, start: number): number => {
  let i = start + 1
  while (i < text.length) {
    const c = text.charCodeAt(i)
    if (c === BACKSLASH) i += 2
    else if (c === QUOTE) return i + 1
    else i++
  }
  return text.length
}

/** A member name as a string: the literal between the quotes, decoded only when it holds an escape. */
const memberName = (literal: string): string => {
  if (!literal.includes("\\")) return literal.slice(1, -1)
  try {
    return JSON.parse(literal) as string
  } catch {
    return ""
  }
}

/**
 * Scans `text`; `TooDeep` as soon as the nesting passes `maxDepth`.
 *
 * @since 0.2.0
 * @category scanning
 */
export const outline = (text: string, maxDepth: number): Outline => {
  let depth = 0
  let deepest = 0
  let rootIsObject = false
  // Only at depth 1 of an object root: the member name just read, and where its value started.
  let name: string | undefined
  let valueStart = -1
  let id: string | undefined
  let idMembers = 0
  const endMember = (end: number) => {
    if (name === "id" && valueStart >= 0) {
      id = text.slice(valueStart, end).trimEnd()
      idMembers++
    }
    name = undefined
    valueStart = -1
  }
  let i = 0
  while (i < text.length) {
    const c = text.charCodeAt(i)
    const atMember = depth === 1 && rootIsObject
    if (c === QUOTE) {
      const end = endOfString(text, i)
      if (atMember && name === undefined) name = memberName(text.slice(i, end))
      else if (atMember && valueStart < 0) valueStart = i
      i = end
      continue
    }
    if (isOpen(c)) {
      if (atMember && valueStart < 0) valueStart = i
      if (depth === 0) rootIsObject = c === 0x7b
      depth++
      if (depth > maxDepth) return { _tag: "TooDeep", limit: maxDepth }
      if (depth > deepest) deepest = depth
    } else if (isClose(c)) {
      if (atMember) endMember(i)
      depth--
    } else if (atMember && c === COMMA) {
      endMember(i)
    } else if (atMember && c !== COLON && !isSpace(c) && name !== undefined && valueStart < 0) {
      valueStart = i
    }
    i++
  }
  return { _tag: "Outline", depth: deepest, id, idMembers }
}

/**
 * The deepest nesting of arrays and objects accepted in an input line (and in a results line read back). Deeper
 * lines are refused before parsing.
 *
 * @since 0.2.0
 * @category constants
 */
export const MAX_DEPTH = 64
