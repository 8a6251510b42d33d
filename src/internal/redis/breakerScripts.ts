/**
 * The Lua scripts of the shared circuit breaker. Each runs atomically inside Redis on Redis's own `TIME`, so a
 * break ends at the same instant for every machine whatever their clocks say; replies carry durations (time left
 * on the break, on the lease), never instants, for the same reason.
 *
 * `KEYS[1]` is the key's record, a hash: `gen` (generation, bumped on every open and close, never below the Redis
 * time in millis so that it keeps growing after the record expired or Redis lost it), `st` ("Open" | "Closed"),
 * `until` (break end, Redis epoch millis), `step` (the break schedule's step of this break), `brk` (its length).
 * It expires `margin` after its break ends. `KEYS[2]` is the probe lease, a string holding the prober's id, set
 * with `NX PX probeTimeout`. `ARGV[1..4]`: the channel announcements go to, the breaker key (for the
 * announcement), this process's id, the expiry margin in millis.
 *
 * Every record in a reply is `gen, st, remaining millis, step, brk` (strings); an announcement is the JSON
 * `{ k: key, o: origin id, e: "open" | "close" | "release", g, s, r, p, b }` of the same fields.
 */
import { script } from "./scripts.js"

const prelude = `
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local channel, name, holder, margin = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local h = redis.call("HMGET", KEYS[1], "gen", "st", "until", "step", "brk")
local exists = h[1] ~= false
local gen = tonumber(h[1]) or 0
local st = h[2] or "Closed"
local untilv = tonumber(h[3]) or 0
local step = tonumber(h[4]) or 0
local brk = tonumber(h[5]) or 0
local function d(x) return string.format("%d", x) end
local function record() return { d(gen), st, d(untilv - now), d(step), d(brk) } end
local function announce(event)
  redis.call("PUBLISH", channel, cjson.encode({
    k = name, o = holder, e = event, g = d(gen), s = st, r = d(untilv - now), p = d(step), b = d(brk)
  }))
end
local function write(event)
  gen = math.max(gen + 1, now)
  redis.call("HSET", KEYS[1], "gen", d(gen), "st", st, "until", d(untilv), "step", d(step), "brk", d(brk))
  redis.call("PEXPIRE", KEYS[1], d(math.max(0, untilv - now) + margin))
  redis.call("DEL", KEYS[2])
  announce(event)
end
local function answer(tag, ms)
  local r = record()
  return { tag, d(ms), exists and "1" or "0", r[1], r[2], r[3], r[4], r[5] }
end
`

/**
 * `ARGV[5..8]`: reopen ("1": a failed probe's break, "0": a trip from Closed), the generation the probe belonged
 * to, the step, the break millis. A trip into an open record, or a reopen of a generation that is not the
 * record's, changes nothing: the caller adopts the record returned.
 */
const openLua = `${prelude}
local reopen = ARGV[5] == "1"
if exists and not reopen and st == "Open" then return record() end
if exists and reopen and d(gen) ~= ARGV[6] then return record() end
st, step, brk = "Open", tonumber(ARGV[7]), tonumber(ARGV[8])
untilv = now + brk
write("open")
return record()
`

/** A probe succeeded: closes an open record (any generation: the service answers) and frees the lease. */
const closeLua = `${prelude}
if st ~= "Open" then return record() end
st, step, brk, untilv = "Closed", 0, 0, now
write("close")
return record()
`

/**
 * `ARGV[5]`: lease millis. Replies `{ tag, lease millis, exists, record... }`: "Closed" (nothing to probe), "Wait"
 * (the break is not over on Redis's clock), "Probe" (the lease is this process's now), "Busy" (another holds it).
 */
const claimLua = `${prelude}
if exists and st == "Closed" then return answer("Closed", 0) end
if exists and untilv > now then return answer("Wait", 0) end
if redis.call("SET", KEYS[2], holder, "NX", "PX", ARGV[5]) then return answer("Probe", 0) end
return answer("Busy", math.max(0, redis.call("PTTL", KEYS[2])))
`

/** Gives the lease back when this process holds it, and says so, so that a waiting process may probe at once. */
const releaseLua = `${prelude}
if redis.call("GET", KEYS[2]) == holder then
  redis.call("DEL", KEYS[2])
  announce("release")
end
return "1"
`

/** The record and the time left on the lease, changing nothing. */
const peekLua = `${prelude}
return answer("Peek", math.max(0, redis.call("PTTL", KEYS[2])))
`

export const open = script("breakerOpen", openLua)
export const close = script("breakerClose", closeLua)
export const claim = script("breakerClaim", claimLua)
export const release = script("breakerRelease", releaseLua)
export const peek = script("breakerPeek", peekLua)
