/**
 * The admission queue: a fixed number of classes, each a first-in first-out doubly linked list, so that every
 * operation the limiter needs is O(1) (O(classes) for the head) however many callers wait.
 *
 * Class 0 is served first. The queue is a plain mutable structure: the limiter only touches it from synchronous
 * sections, which JavaScript never interleaves.
 */

/**
 * A waiting value and its place in the queue. Keep it to remove the value later in O(1).
 */
export interface Entry<A> {
  readonly value: A
  /** The class, 0 being served first. */
  readonly rank: number
  /** False once the entry has left the queue (taken, removed or shed). */
  readonly queued: boolean
}

interface Node<A> {
  readonly value: A
  readonly rank: number
  queued: boolean
  prev: Node<A> | undefined
  next: Node<A> | undefined
}

interface Lane<A> {
  head: Node<A> | undefined
  tail: Node<A> | undefined
  size: number
}

export interface PriorityQueue<A> {
  /** Waiting values in every class. */
  readonly size: number
  /** Waiting values in one class. */
  readonly sizeOf: (rank: number) => number
  /** Appends a value to the back of its class. */
  readonly push: (value: A, rank: number) => Entry<A>
  /** The oldest value of the best non-empty class, without taking it. */
  readonly peek: () => Entry<A> | undefined
  /**
   * The entry served right after `entry` (the next of its class, else the oldest of the next non-empty class), to
   * walk the queue in service order while removing entries. Undefined at the end, or when `entry` has left.
   */
  readonly next: (entry: Entry<A>) => Entry<A> | undefined
  /** Takes an entry out of the queue; false when it had already left. */
  readonly remove: (entry: Entry<A>) => boolean
  /** The worst class that holds a value. */
  readonly lowestRank: () => number | undefined
  /** Takes the newest value of the worst non-empty class (the one to shed). */
  readonly popLowest: () => Entry<A> | undefined
  /** Values in service order, for inspection and tests (O(n)). */
  readonly toArray: () => ReadonlyArray<A>
}

class LaneQueue<A> implements PriorityQueue<A> {
  private readonly lanes: Array<Lane<A>>
  private count = 0

  constructor(private readonly classes: number) {
    this.lanes = Array.from({ length: classes }, () => ({ head: undefined, tail: undefined, size: 0 }))
  }

  get size() {
    return this.count
  }

  private laneOf(rank: number): Lane<A> {
    const lane = this.lanes[rank]
    if (lane === undefined) throw new RangeError(`PriorityQueue: rank ${rank} is outside 0…${this.classes - 1}`)
    return lane
  }

  private unlink(node: Node<A>): void {
    const lane = this.laneOf(node.rank)
    if (node.prev === undefined) lane.head = node.next
    else node.prev.next = node.next
    if (node.next === undefined) lane.tail = node.prev
    else node.next.prev = node.prev
    node.prev = undefined
    node.next = undefined
    node.queued = false
    lane.size--
    this.count--
  }

  sizeOf(rank: number) {
    return this.laneOf(rank).size
  }

  push(value: A, rank: number): Entry<A> {
    const lane = this.laneOf(rank)
    const node: Node<A> = { value, rank, queued: true, prev: lane.tail, next: undefined }
    if (lane.tail === undefined) lane.head = node
    else lane.tail.next = node
    lane.tail = node
    lane.size++
    this.count++
    return node
  }

  peek(): Entry<A> | undefined {
    for (const lane of this.lanes) {
      if (lane.head !== undefined) return lane.head
    }
    return undefined
  }

  next(entry: Entry<A>): Entry<A> | undefined {
    const node = entry as Node<A>
    if (!node.queued) return undefined
    if (node.next !== undefined) return node.next
    for (let rank = node.rank + 1; rank < this.classes; rank++) {
      const head = this.laneOf(rank).head
      if (head !== undefined) return head
    }
    return undefined
  }

  remove(entry: Entry<A>): boolean {
    const node = entry as Node<A>
    if (!node.queued) return false
    this.unlink(node)
    return true
  }

  lowestRank(): number | undefined {
    for (let rank = this.classes - 1; rank >= 0; rank--) {
      if (this.laneOf(rank).size > 0) return rank
    }
    return undefined
  }

  popLowest(): Entry<A> | undefined {
    for (let rank = this.classes - 1; rank >= 0; rank--) {
      const tail = this.laneOf(rank).tail
      if (tail !== undefined) {
        this.unlink(tail)
        return tail
      }
    }
    return undefined
  }

  toArray(): ReadonlyArray<A> {
    const out: Array<A> = []
    for (const lane of this.lanes) {
      for (let node = lane.head; node !== undefined; node = node.next) out.push(node.value)
    }
    return out
  }
}

/** Creates an empty queue with `classes` classes (ranks `0 … classes − 1`). */
export const make = <A>(classes: number): PriorityQueue<A> => new LaneQueue<A>(classes)
