/**
 * The Lua scripts of the Redis store: one per decision (`reserve`, `settle`, `hold`) plus the worker heartbeat.
 * Each runs atomically inside Redis and reads Redis's own `TIME`, so the clocks of the workers never matter.
 *
 * The arithmetic is the one of `MemoryStore` (the doc comment of `RateLimiterStore` gives it), in the same order of
 * operations, so that both give bit-identical answers for the same inputs. Numbers cross the Lua boundary as
 * strings (`%.17g` both ways): Redis would truncate a Lua number in a reply to an integer, and Lua's own
 * `tostring` keeps only 14 digits.
 *
 * State of one budget key, a hash that expires `margin` after its last TAT or hold is in the past (from then on it
 * is indistinguishable from a fresh key): `r` the requests TAT, `t` the tokens TAT, `h` the hold, epoch millis.
 */
import { createHash } from "node:crypto"
import type * as RateLimiterStore from "../../RateLimiterStore.js"

/**
 * A Lua script and its SHA1, for `EVALSHA`.
 */
export interface Script {
  readonly name: string
  readonly lua: string
  readonly sha: string
}

export const script = (name: Script["name"], lua: string): Script => ({
  name,
  lua,
  sha: createHash("sha1").update(lua).digest("hex")
})

/**
 * Shared helpers. `ARGV[1]` is the clock: empty in production (Redis `TIME`, frozen for the whole script), or an
 * explicit epoch-millis value so that tests can replay a sequence against the memory store.
 */
const prelude = `
local NEG = -math.huge
local function fmt(x) return string.format("%.17g", x) end
local function clock(arg)
  if arg ~= nil and arg ~= "" then return tonumber(arg) end
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local now = clock(ARGV[1])
local key = KEYS[1]
local function store(r, t, h, margin)
  local last = h or 0
  if r ~= nil and r > last then last = r end
  if t ~= nil and t > last then last = t end
  local fields = {}
  if r ~= nil then fields[#fields + 1] = "r"; fields[#fields + 1] = fmt(r) end
  if t ~= nil then fields[#fields + 1] = "t"; fields[#fields + 1] = fmt(t) end
  if h ~= nil then fields[#fields + 1] = "h"; fields[#fields + 1] = fmt(h) end
  if #fields > 0 then
    redis.call("HSET", key, unpack(fields))
    redis.call("PEXPIRE", key, string.format("%d", math.ceil(math.max(0, last - now)) + margin))
  end
end
`

/**
 * `KEYS[1]` the budget hash; `ARGV`: clock, requests, tokens, requests interval, requests burst, tokens interval,
 * tokens burst (an absent dimension as two empty strings), expiry margin in millis.
 * Returns `{ ok ("1" | "0"), wait millis, now }`, all strings.
 */
const reserveLua = `${prelude}
local requests = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local rI, rB = tonumber(ARGV[4]), tonumber(ARGV[5])
local tI, tB = tonumber(ARGV[6]), tonumber(ARGV[7])
local margin = tonumber(ARGV[8])
local state = redis.call("HMGET", key, "r", "t", "h")
local r, t, h = tonumber(state[1]), tonumber(state[2]), tonumber(state[3])
local function allow_at(tat, cost, interval, burst)
  if interval == nil or cost <= 0 then return now end
  return math.max(tat or NEG, now) + cost * interval - math.max(burst, cost) * interval
end
local function take(tat, cost, interval)
  if interval == nil or cost <= 0 then return tat end
  return math.max(tat or NEG, now) + cost * interval
end
local wait = math.max((h or 0) - now, allow_at(r, requests, rI, rB) - now, allow_at(t, tokens, tI, tB) - now)
if wait > 1e-6 then return { "0", fmt(wait), fmt(now) } end
local r2, t2 = take(r, requests, rI), take(t, tokens, tI)
if r2 ~= r or t2 ~= t then store(r2, t2, h, margin) end
return { "1", "0", fmt(now) }
`

/**
 * `KEYS[1]` the budget hash; `ARGV`: clock, requests delta, tokens delta, requests interval, tokens interval
 * (empty when absent), expiry margin. Returns the clock as a string.
 */
const settleLua = `${prelude}
local dr, dt = tonumber(ARGV[2]), tonumber(ARGV[3])
local rI, tI = tonumber(ARGV[4]), tonumber(ARGV[5])
local margin = tonumber(ARGV[6])
local state = redis.call("HMGET", key, "r", "t", "h")
local r, t, h = tonumber(state[1]), tonumber(state[2]), tonumber(state[3])
local function adjust(tat, delta, interval)
  if interval == nil or delta == 0 then return tat end
  if delta > 0 then return math.max(tat or NEG, now) + delta * interval end
  return math.max(now, (tat or NEG) + delta * interval)
end
local r2, t2 = adjust(r, dr, rI), adjust(t, dt, tI)
if r2 ~= r or t2 ~= t then store(r2, t2, h, margin) end
return fmt(now)
`

/**
 * `KEYS[1]` the budget hash; `ARGV`: clock, hold millis, expiry margin. Returns `{ holdUntil, now }` as strings.
 */
const holdLua = `${prelude}
local millis, margin = tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call("HMGET", key, "r", "t", "h")
local r, t, h = tonumber(state[1]), tonumber(state[2]), tonumber(state[3])
local h2 = math.max(h or 0, now + math.max(0, millis))
if h2 ~= h then store(r, t, h2, margin) end
return { fmt(h2), fmt(now) }
`

/**
 * `KEYS[1]` the workers sorted set; `ARGV`: clock, worker id, window millis. Records the worker as seen now,
 * forgets workers not seen within the window, and returns how many remain.
 */
const heartbeatLua = `
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[3])
redis.call("ZADD", KEYS[1], string.format("%d", now), ARGV[2])
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", string.format("(%d", now - window))
redis.call("PEXPIRE", KEYS[1], string.format("%d", window))
return redis.call("ZCARD", KEYS[1])
`

export const reserve: Script = script("reserve", reserveLua)

export const settle: Script = script("settle", settleLua)

export const hold: Script = script("hold", holdLua)

export const heartbeat: Script = script("heartbeat", heartbeatLua)

const num = (value: number | undefined): string => (value === undefined ? "" : String(value))

/**
 * The clock argument: empty for Redis `TIME`, or a fixed epoch-millis value (tests replay sequences with it).
 */
export type ClockArg = number | undefined

/**
 * The `ARGV` of `reserve`.
 */
export const reserveArgs = (
  request: RateLimiterStore.ReserveRequest,
  marginMillis: number,
  clock?: ClockArg
): Array<string> => [
  num(clock),
  String(request.requests),
  String(request.tokens),
  num(request.limits.requests?.intervalMillis),
  num(request.limits.requests?.burst),
  num(request.limits.tokens?.intervalMillis),
  num(request.limits.tokens?.burst),
  String(marginMillis)
]

/**
 * The `ARGV` of `settle`.
 */
export const settleArgs = (
  request: RateLimiterStore.SettleRequest,
  marginMillis: number,
  clock?: ClockArg
): Array<string> => [
  num(clock),
  String(request.requests),
  String(request.tokens),
  num(request.limits.requests?.intervalMillis),
  num(request.limits.tokens?.intervalMillis),
  String(marginMillis)
]

/**
 * The `ARGV` of `hold`.
 */
export const holdArgs = (
  request: RateLimiterStore.HoldRequest,
  marginMillis: number,
  clock?: ClockArg
): Array<string> => [num(clock), String(Math.max(0, request.millis)), String(marginMillis)]

const strings = (reply: unknown): ReadonlyArray<string> | undefined =>
  Array.isArray(reply) && reply.every((item) => typeof item === "string") ? reply : undefined

/**
 * The reply of `reserve`, or undefined when it is not one.
 */
export const parseReserve = (
  reply: unknown
): { readonly reservation: RateLimiterStore.Reservation; readonly nowMillis: number } | undefined => {
  const [ok, wait, now] = strings(reply) ?? []
  if (ok === undefined || wait === undefined || now === undefined) return undefined
  return {
    reservation: ok === "1" ? { ok: true } : { ok: false, retryAfterMillis: Number(wait) },
    nowMillis: Number(now)
  }
}

/**
 * The reply of `hold` (the key's hold, epoch millis), or undefined when it is not one.
 */
export const parseHold = (reply: unknown): number | undefined => {
  const until = strings(reply)?.[0]
  return until === undefined ? undefined : Number(until)
}
