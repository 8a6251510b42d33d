/**
 * xAI's token paging as a `Stream`: ask for a page, emit its items, follow `pagination_token` until it is absent,
 * null or empty. A server that hands back a token it already gave would page forever: that is a typed failure.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as GrokError from "../../GrokError.js"

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly next: string | null | undefined
}

const repeated = (kind: string, token: string) =>
  new GrokError.Transient({
    reason: "MalformedBody",
    detail: `the ${kind} pages loop: the server gave pagination_token ${JSON.stringify(token.slice(0, 100))} twice`,
    shouldRetry: false
  })

/** Every item of every page, in order, fetched one page at a time as the stream is pulled. */
export const pages = <A>(
  kind: string,
  fetch: (token: string | undefined) => Effect.Effect<Page<A>, GrokError.GrokError>
): Stream.Stream<A, GrokError.GrokError> =>
  Stream.suspend(() => {
    // One set per run of the stream: each run pages from the start.
    const seen = new Set<string>()
    return Stream.paginateChunkEffect(undefined as string | undefined, (token) =>
      Effect.flatMap(fetch(token), (page) => {
        const next = page.next ?? undefined
        const items = Chunk.fromIterable(page.items)
        if (next === undefined || next === "") return Effect.succeed([items, Option.none<string>()] as const)
        if (seen.has(next)) return Effect.fail(repeated(kind, next))
        seen.add(next)
        return Effect.succeed([items, Option.some(next)] as const)
      })
    )
  })
