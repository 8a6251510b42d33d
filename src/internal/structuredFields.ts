/** The small part of RFC 8941 structured fields that the IETF `RateLimit` headers use. */

/** Splits on `separator` outside double-quoted strings (structured-field strings may hold commas). */
const splitUnquoted = (value: string, separator: string): Array<string> => {
  const parts: Array<string> = []
  let current = ""
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!
    if (quoted && char === "\\") {
      current += char + (value[i + 1] ?? "")
      i++
    } else if (char === separator && !quoted) {
      parts.push(current)
      current = ""
    } else {
      if (char === '"') quoted = !quoted
      current += char
    }
  }
  parts.push(current)
  return parts
}

export interface Item {
  readonly name: string
  readonly params: ReadonlyMap<string, string>
}

/** A structured-field list such as `"default";r=50;t=30, "daily";r=900;t=3600`. */
export const itemList = (value: string | undefined): Array<Item> =>
  value === undefined
    ? []
    : splitUnquoted(value, ",").map((item) => {
        const [name = "", ...params] = splitUnquoted(item, ";")
        return {
          name: name.trim().replace(/^"(.*)"$/, "$1"),
          params: new Map(
            params.map((param) => {
              const eq = param.indexOf("=")
              return eq < 0 ? [param.trim(), "?1"] : [param.slice(0, eq).trim(), param.slice(eq + 1).trim()]
            })
          )
        }
      })
