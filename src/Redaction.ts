/**
 * Keeps secrets out of every string we produce: errors, log lines, span attributes and output files.
 *
 * @since 0.1.0
 */

/** xAI keys look like `xai-` followed by a long token; servers sometimes echo them back. */
const KEY_PATTERN = /\bxai-[A-Za-z0-9_-]{8,}/g
/** Bearer credentials in echoed headers or error text. */
const BEARER_PATTERN = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/gi

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
    if (secret.length >= 6) out = out.split(secret).join("<redacted>")
  }
  return out.replace(KEY_PATTERN, "<redacted>").replace(BEARER_PATTERN, "$1 <redacted>")
}
