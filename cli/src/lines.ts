/**
 * Reading a file line by line in constant memory, with the byte offset where each line ends, so that the journal
 * can cut a torn last line off. Reads are synchronous and chunked (64 KiB): one read takes microseconds and keeps
 * the code free of back-pressure plumbing.
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs"

/**
 * One line of a file, without its line terminator.
 *
 * @since 0.1.0
 * @category models
 */
export interface Line {
  /** 1-based line number. */
  readonly number: number
  readonly text: string
  /** Byte offset just past the line's `\n` (or past its last byte when the file ends without one). */
  readonly end: number
  /** Whether the line ended with `\n`; only the last line of a file can be unterminated. */
  readonly terminated: boolean
}

const CHUNK = 64 * 1024
const NEWLINE = 0x0a

/**
 * The lines of an open file descriptor, read from offset 0. The caller owns (and closes) the descriptor.
 *
 * @since 0.1.0
 * @category constructors
 */
export function* linesOf(fd: number): Generator<Line, void, undefined> {
  const buffer = Buffer.allocUnsafe(CHUNK)
  let pending: Array<Buffer> = []
  let position = 0
  let number = 0
  for (;;) {
    const read = Fs.readSync(fd, buffer, 0, CHUNK, position)
    if (read === 0) break
    let start = 0
    for (let i = 0; i < read; i++) {
      if (buffer[i] !== NEWLINE) continue
      const piece = buffer.subarray(start, i)
      const bytes = pending.length > 0 ? Buffer.concat([...pending, piece]) : piece
      pending = []
      number++
      yield { number, text: stripCr(bytes.toString("utf8")), end: position + i + 1, terminated: true }
      start = i + 1
    }
    if (start < read) pending.push(Buffer.from(buffer.subarray(start, read)))
    position += read
  }
  if (pending.length > 0) {
    number++
    yield { number, text: stripCr(Buffer.concat(pending).toString("utf8")), end: position, terminated: false }
  }
}

/** Drops the `\r` of a CRLF line and a UTF-8 byte order mark. */
const stripCr = (text: string): string => {
  const noCr = text.endsWith("\r") ? text.slice(0, -1) : text
  return noCr.charCodeAt(0) === 0xfeff ? noCr.slice(1) : noCr
}

/**
 * Counts the non-blank lines of a file without decoding them, for the progress total.
 *
 * @since 0.1.0
 * @category utils
 */
export const countNonBlankLines = (path: string): number => {
  const fd = Fs.openSync(path, "r")
  try {
    const buffer = Buffer.allocUnsafe(CHUNK)
    let position = 0
    let count = 0
    let blank = true
    for (;;) {
      const read = Fs.readSync(fd, buffer, 0, CHUNK, position)
      if (read === 0) break
      for (let i = 0; i < read; i++) {
        const byte = buffer[i]!
        if (byte === NEWLINE) {
          if (!blank) count++
          blank = true
        } else if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) {
          blank = false
        }
      }
      position += read
    }
    return blank ? count : count + 1
  } finally {
    Fs.closeSync(fd)
  }
}
