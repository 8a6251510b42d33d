/**
 * Keeps secrets out of every string we produce: errors, log lines, span attributes and output files.
 *
 * @since 0.1.0
 */

/** xAI keys look like `xai-` followed by a long token; servers sometimes echo them back. */
const KEY_PATTERN = /\bxai-[A-Za-z0-9_-]{8,}/g
/** Bearer credentials in echoed headers or error text. */
const BEARER_PATTERN = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/gi
const MAYBE_BEARER = /bearer/i

/**
 * The text with every known secret and anything shaped like an xAI key replaced by `<redacted>`.
 *
 * @since 0.1.0
 * @category redaction
 */
export const scrub = (text: string, secrets: ReadonlyArray<string> = []): string => {
  let out = text
  for (const secret of secrets) {
    // Short secrets would blank out ordinary words; a real key is long.
    if (secret.length >= 6 && out.includes(secret)) out = out.split(secret).join("<redacted>")
  }
  // Most text (a request id, say) holds neither shape: a plain search is cheaper than a global replace.
  if (out.includes("xai-")) out = out.replace(KEY_PATTERN, "<redacted>")
  return MAYBE_BEARER.test(out) ? out.replace(BEARER_PATTERN, "$1 <redacted>") : out
}
