/**
 * A map from id keys to one whole number each (below 2^32), kept in typed arrays: the keys' code units packed into
 * one byte arena and an open-addressing index over them. It holds what a run must remember about 400,000 ids
 * (finished or seen, and a flag or a line number) in about 20 bytes an id plus the ids' own text (one byte a
 * character, two when one is above U+00FF), where a `Map<string, object>` takes about 100 bytes an id and keeps a V8
 * string, and an object, alive for each.
 *
 * Lookups compare the key's code units exactly; the hash only picks where to start probing. Two keys with the same
 * hash therefore stay two entries, and a collision costs one extra comparison, never a wrong answer.
 *
 * Each entry also has a tag, a byte of its own, so that two users can share one table: the journal keeps its flags
 * of a finished id in the tag and the input parser the id's first line in the value, and a run that resumes holds
 * each id once instead of once in each of two tables.
 *
 * @since 0.2.0
 */

/**
 * A 32-bit hash of a key's UTF-16 code units.
 *
 * @since 0.2.0
 * @category models
 */
export type Hash = (key: string) => number

/**
 * FNV-1a over the UTF-16 code units.
 *
 * @since 0.2.0
 * @category hashing
 */
export const fnv1a: Hash = (key) => {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** Marks, in `ends`, a key stored as two bytes a code unit (it has one above 0xFF). */
const WIDE = 0x80000000
/** The arena's limit: its offsets share 32 bits with the `WIDE` flag. */
const MAX_ARENA = 0x7fffffff
const EMPTY = 0
/** The largest number a key can hold: the values are 32-bit. */
const MAX_VALUE = 0xffffffff
/** The largest tag: one byte. */
const MAX_TAG = 0xff

const checkValue = (value: number): void => {
  if (!Number.isInteger(value) || value < 0 || value > MAX_VALUE) {
    throw new RangeError(`a KeyTable holds whole numbers from 0 to ${MAX_VALUE}, not ${value}`)
  }
}

const isNarrow = (key: string): boolean => {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0xff) return false
  return true
}

/**
 * @since 0.2.0
 * @category models
 */
export class KeyTable {
  /**
   * Entry index + 1 for each slot; 0 is empty. Its length is a power of two, filled to at most four fifths: at
   * 400,000 ids that is 2 MiB of slots where "at most half" took 4 MiB; a lookup compares 32-bit hashes first, so the
   * longer probe runs of a fuller table cost little.
   */
  private slots: Uint32Array
  private hashes: Uint32Array
  /** Where each key's bytes end in the arena (they start where the previous entry's end), `WIDE` when UTF-16LE. */
  private ends: Uint32Array
  private values: Uint32Array
  private tags: Uint8Array
  private arena = new Uint8Array(4096)
  private used = 0
  size = 0

  /**
   * `expected`, the number of keys the caller expects to hold, sizes the arrays once: growing them to 400,000 keys
   * step by step copies each array about ten times and holds the old and the new copy at each step.
   */
  constructor(
    private readonly hash: Hash = fnv1a,
    expected = 0
  ) {
    const entries = Math.max(256, Math.ceil(expected))
    let slots = 1024
    while (slots * 4 < entries * 5) slots *= 2
    this.slots = new Uint32Array(slots)
    this.hashes = new Uint32Array(entries)
    this.ends = new Uint32Array(entries)
    this.values = new Uint32Array(entries)
    this.tags = new Uint8Array(entries)
  }

  /** The number stored for `key`, or undefined. */
  get(key: string): number | undefined {
    const entry = this.entryOf(key)
    return entry < 0 ? undefined : this.values[entry]
  }

  has(key: string): boolean {
    return this.entryOf(key) >= 0
  }

  /** Stores `value` (a whole number from 0 to 2^32 − 1) for `key`, replacing the number it had. */
  set(key: string, value: number): void {
    checkValue(value)
    // Added first: adding can replace `values` with a larger copy.
    const entry = this.add(key)
    this.values[entry] = value
  }

  /** The entry of `key` (from 0 to `size` − 1), or −1 when the table does not hold it. */
  entryOf(key: string): number {
    return this.find(key, this.hash(key) >>> 0)
  }

  /** The entry of `key`, added with value 0 and tag 0 when the table did not hold it. */
  add(key: string): number {
    const hash = this.hash(key) >>> 0
    const found = this.find(key, hash)
    if (found >= 0) return found
    if (this.size === this.hashes.length) this.growEntries()
    if ((this.size + 1) * 5 > this.slots.length * 4) this.growSlots()
    const entry = this.size++
    this.hashes[entry] = hash
    this.values[entry] = 0
    this.tags[entry] = 0
    this.store(entry, key)
    this.place(entry, hash)
    return entry
  }

  /** The number of an entry that `entryOf` or `add` gave. */
  valueAt(entry: number): number {
    return this.values[entry]!
  }

  setValueAt(entry: number, value: number): void {
    checkValue(value)
    this.values[entry] = value
  }

  /** The tag (a byte, 0 when never set) of an entry that `entryOf` or `add` gave. */
  tagAt(entry: number): number {
    return this.tags[entry]!
  }

  setTagAt(entry: number, tag: number): void {
    if (!Number.isInteger(tag) || tag < 0 || tag > MAX_TAG) {
      throw new RangeError(`a KeyTable's tags are whole numbers from 0 to ${MAX_TAG}, not ${tag}`)
    }
    this.tags[entry] = tag
  }

  /** Forgets every key and keeps the arrays, so that filling the table again allocates nothing. */
  clear(): void {
    this.slots.fill(EMPTY)
    this.size = 0
    this.used = 0
  }

  /** Bytes held by the typed arrays. */
  get bytes(): number {
    const arrays = [this.slots, this.hashes, this.ends, this.values, this.tags, this.arena]
    return arrays.reduce((sum, array) => sum + array.byteLength, 0)
  }

  private startOf(entry: number): number {
    return entry === 0 ? 0 : (this.ends[entry - 1]! & ~WIDE) >>> 0
  }

  private find(key: string, hash: number): number {
    const mask = this.slots.length - 1
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const at = this.slots[slot]!
      if (at === EMPTY) return -1
      const entry = at - 1
      if (this.hashes[entry] === hash && this.matches(entry, key)) return entry
    }
  }

  private matches(entry: number, key: string): boolean {
    const end = this.ends[entry]!
    const wide = (end & WIDE) !== 0
    let at = this.startOf(entry)
    const bytes = ((end & ~WIDE) >>> 0) - at
    if (bytes !== (wide ? key.length * 2 : key.length)) return false
    const arena = this.arena
    if (!wide) {
      for (let i = 0; i < key.length; i++) if (arena[at + i] !== key.charCodeAt(i)) return false
      return true
    }
    for (let i = 0; i < key.length; i++, at += 2) {
      if (arena[at]! + (arena[at + 1]! << 8) !== key.charCodeAt(i)) return false
    }
    return true
  }

  private store(entry: number, key: string): void {
    const narrow = isNarrow(key)
    const needed = this.used + (narrow ? key.length : key.length * 2)
    if (needed > MAX_ARENA) throw new RangeError("more than 2 GiB of ids to remember")
    if (needed > this.arena.length) this.growArena(needed)
    const arena = this.arena
    let at = this.used
    for (let i = 0; i < key.length; i++) {
      const unit = key.charCodeAt(i)
      if (narrow) arena[at++] = unit
      else {
        arena[at++] = unit & 0xff
        arena[at++] = unit >>> 8
      }
    }
    this.used = at
    this.ends[entry] = narrow ? at : (at | WIDE) >>> 0
  }

  private place(entry: number, hash: number): void {
    const mask = this.slots.length - 1
    let slot = hash & mask
    while (this.slots[slot] !== EMPTY) slot = (slot + 1) & mask
    this.slots[slot] = entry + 1
  }

  private growEntries(): void {
    const capacity = this.hashes.length * 2
    const hashes = new Uint32Array(capacity)
    const ends = new Uint32Array(capacity)
    const values = new Uint32Array(capacity)
    const tags = new Uint8Array(capacity)
    hashes.set(this.hashes)
    ends.set(this.ends)
    values.set(this.values)
    tags.set(this.tags)
    this.hashes = hashes
    this.ends = ends
    this.values = values
    this.tags = tags
  }

  private growSlots(): void {
    this.slots = new Uint32Array(this.slots.length * 2)
    for (let entry = 0; entry < this.size; entry++) this.place(entry, this.hashes[entry]!)
  }

  private growArena(needed: number): void {
    let capacity = this.arena.length * 2
    while (capacity < needed) capacity *= 2
    const arena = new Uint8Array(Math.min(capacity, MAX_ARENA))
    arena.set(this.arena.subarray(0, this.used))
    this.arena = arena
  }
}
