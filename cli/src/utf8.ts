/**
 * Strict UTF-8 for input lines: a line is decoded only when every byte is well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF). Lossy decoding would turn `"u\xff"` and `"u\xfe"` into the same
 * `"u\uFFFD"`, merging two ids.
 *
 * @since 0.2.0
 */
import { isUtf8 } from "node:buffer"

/**
 * A line's text, or where its first byte that is not UTF-8 sits.
 *
 * @since 0.2.0
 * @category models
 */
export type Decoded =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "NotUtf8"; readonly offset: number; readonly byte: number }

/** The length of the well-formed sequence at `i`, or 0 when the bytes there are not UTF-8. */
const sequenceAt = (bytes: Uint8Array, i: number): number => {
  const b0 = bytes[i]!
  if (b0 < 0x80) return 1
  const continuation = (k: number, low = 0x80, high = 0xbf) => {
    const b = bytes[i + k]
    return b !== undefined && b >= low && b <= high
  }
  if (b0 >= 0xc2 && b0 <= 0xdf) return continuation(1) ? 2 : 0
  if (b0 >= 0xe0 && b0 <= 0xef) {
    // E0 needs A0..BF (no overlong form), ED needs 80..9F (no surrogates).
    const ok = continuation(1, b0 === 0xe0 ? 0xa0 : 0x80, b0 === 0xed ? 0x9f : 0xbf) && continuation(2)
    return ok ? 3 : 0
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    // F0 needs 90..BF (no overlong form), F4 needs 80..8F (nothing above U+10FFFF).
    const ok =
      continuation(1, b0 === 0xf0 ? 0x90 : 0x80, b0 === 0xf4 ? 0x8f : 0xbf) && continuation(2) && continuation(3)
    return ok ? 4 : 0
  }
  return 0
}

/**
 * The offset of the first byte that does not start a well-formed UTF-8 sequence; undefined when all are.
 *
 * @since 0.2.0
 * @category decoding
 */
export const firstInvalid = (bytes: Uint8Array): number | undefined => {
  let i = 0
  while (i < bytes.length) {
    const length = sequenceAt(bytes, i)
    if (length === 0) return i
    i += length
  }
  return undefined
}

/**
 * Decodes strict UTF-8. The check runs in native code; the byte-by-byte walk runs only to locate a fault.
 *
 * @since 0.2.0
 * @category decoding
 */
export const decode = (bytes: Buffer): Decoded => {
  if (isUtf8(bytes)) return { _tag: "Text", text: bytes.toString("utf8") }
  const offset = firstInvalid(bytes) ?? 0
  return { _tag: "NotUtf8", offset, byte: bytes[offset] ?? 0 }
}
