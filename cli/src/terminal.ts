/**
 * Whether the CLI may write ANSI escapes (colour, bold, redrawing a line) to a stream.
 *
 * @since 0.1.0
 */

/**
 * True when the stream is a terminal and `NO_COLOR` is unset or empty (https://no-color.org). A pipe, a file or
 * `NO_COLOR=1` get plain text.
 *
 * @since 0.1.0
 * @category predicates
 */
export const takesEscapes = (
  stream: { readonly isTTY?: boolean | undefined },
  env: Readonly<Record<string, string | undefined>> = process.env
): boolean => stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === "")
