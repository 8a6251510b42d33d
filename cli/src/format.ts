/**
 * Small number and duration formats shared by the progress display and the summary.
 *
 * @since 0.1.0
 */

/**
 * `1234` → `1.2k`, `2500000` → `2.5M`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const compact = (n: number): string =>
  n >= 1e6
    ? `${(n / 1e6).toFixed(1)}M`
    : n >= 1e4
      ? `${Math.round(n / 1e3)}k`
      : n >= 1e3
        ? `${(n / 1e3).toFixed(1)}k`
        : `${n}`

/**
 * `83_000` → `1m23s`, `4_200` → `4.2s`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const duration = (millis: number): string => {
  if (!Number.isFinite(millis)) return "?"
  if (millis < 60_000) return `${(millis / 1000).toFixed(1)}s`
  const seconds = Math.round(millis / 1000)
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s).padStart(2, "0")}s`
}

/**
 * US dollars with enough digits for fractions of a cent.
 *
 * @since 0.1.0
 * @category formatting
 */
export const usd = (amount: number): string => `$${amount < 1 ? amount.toFixed(4) : amount.toFixed(2)}`

/**
 * `{ Transient: 2, AuthError: 1 }` → `Transient 2, AuthError 1`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const byTag = (counts: Readonly<Record<string, number>>): string =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([tag, n]) => `${tag} ${n}`)
    .join(", ")
