/**
 * Runs a handler on every element of a stream, a bounded number at once, in as many long-lived fibers. The same
 * contract as `Stream.mapEffect(handle, { concurrency, unordered: true })` followed by `Stream.runDrain` (elements
 * read as they are needed, the first failure interrupts the other handlers and fails the whole, interrupting the
 * whole interrupts every handler), without its per-element cost: the stream forks a fiber, copies its FiberRefs
 * and merges them back for each element, some 500 run-loop steps a call of the batch CLI. Here each worker takes
 * the next element from a shared chunk, pulled from the stream only when the chunk is used up.
 *
 * @since 0.2.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/**
 * Runs `handle` on every element of `stream`, at most `concurrency` at once, in no particular order.
 *
 * @since 0.2.0
 * @category running
 */
export const drain = <A, E, R, E2, R2>(
  stream: Stream.Stream<A, E, R>,
  concurrency: number,
  handle: (element: A) => Effect.Effect<void, E2, R2>
): Effect.Effect<void, E | E2, R | R2> =>
  Effect.scoped(
    Effect.flatMap(Stream.toPull(stream), (pull) => {
      let chunk: ReadonlyArray<A> = []
      let index = 0
      let ended = false
      // One pull at a time: a worker finding the chunk used up waits for the pull another worker started.
      const lock = Effect.unsafeMakeSemaphore(1)
      const refill: Effect.Effect<void, E, R> = Effect.suspend(() =>
        index < chunk.length || ended
          ? Effect.void
          : Effect.matchEffect(pull, {
              // The end, or a failure that fails the whole: either way no worker pulls again.
              onFailure: (error) => {
                ended = true
                return Option.isSome(error) ? Effect.fail(error.value) : Effect.void
              },
              onSuccess: (next) =>
                Effect.sync(() => {
                  chunk = Chunk.toReadonlyArray(next)
                  index = 0
                })
            })
      )
      const worker: Effect.Effect<void, E | E2, R | R2> = Effect.suspend(() => {
        if (index < chunk.length) return Effect.zipRight(handle(chunk[index++]!), worker)
        if (ended) return Effect.void
        return Effect.zipRight(lock.withPermits(1)(refill), worker)
      })
      return Effect.forEach(Array.from({ length: Math.max(1, concurrency) }), () => worker, {
        concurrency: "unbounded",
        discard: true
      })
    })
  )
