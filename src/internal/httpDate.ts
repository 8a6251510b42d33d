/** HTTP-dates (RFC 9110 §5.6.7), for `Retry-After` and legacy reset headers. */

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
const IMF_FIXDATE = /^[a-z]{3},\s+(\d{1,2})\s+([a-z]{3})\s+(\d{4})\s+(\d{2}):(\d{2}):(\d{2})\s+(?:gmt|utc)$/i
const RFC_850 = /^[a-z]+,\s+(\d{1,2})-([a-z]{3})-(\d{2})\s+(\d{2}):(\d{2}):(\d{2})\s+(?:gmt|utc)$/i
const ASCTIME = /^[a-z]{3}\s+([a-z]{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+(\d{4})$/i

/** Epoch millis of a UTC calendar time, or `undefined` for an impossible one (Feb 30, 25:00). */
const utc = (year: number, month: string, day: number, hour: number, minute: number, second: number) => {
  const monthIndex = MONTHS.indexOf(month.toLowerCase())
  if (monthIndex < 0 || hour > 23 || minute > 59 || second > 60) return undefined
  const midnight = Date.UTC(year, monthIndex, day)
  if (new Date(midnight).getUTCDate() !== day) return undefined
  return midnight + ((hour * 60 + minute) * 60 + second) * 1000
}

/** An HTTP-date in any of the three forms RFC 9110 requires a recipient to accept, as epoch millis. */
export const httpDate = (value: string, nowMillis: number): number | undefined => {
  const imf = IMF_FIXDATE.exec(value)
  if (imf !== null) {
    const [, day, , year, h, m, s] = imf.map(Number)
    return utc(year!, imf[2]!, day!, h!, m!, s!)
  }
  const rfc850 = RFC_850.exec(value)
  if (rfc850 !== null) {
    const [, day, , yy, h, m, s] = rfc850.map(Number)
    // RFC 9110: a two-digit year more than 50 years in the future is the most recent past year with those digits.
    const nowYear = new Date(nowMillis).getUTCFullYear()
    const year = Math.floor(nowYear / 100) * 100 + yy!
    return utc(year > nowYear + 50 ? year - 100 : year, rfc850[2]!, day!, h!, m!, s!)
  }
  const asctime = ASCTIME.exec(value)
  if (asctime !== null) {
    const [, , day, h, m, s, year] = asctime.map(Number)
    return utc(year!, asctime[1]!, day!, h!, m!, s!)
  }
  return undefined
}
