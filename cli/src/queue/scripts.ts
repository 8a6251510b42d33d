/**
 * The queue's Lua scripts. Each one is a single atomic step inside Redis, so that two workers can never both
 * record a result for one id, and a result and the acknowledgement of its item are written together.
 *
 * Keys of a job (`Keys.forJob`): `ids` (hash: item key → content hash), `stream` (the items still to do, one
 * entry each, read by the consumer group `workers`), `results` (hash: item key → result line), `done` (list of
 * item keys in the order their results arrived: the cursor of `collect`), `meta` (hash of counters).
 */

/** Milliseconds on Redis's own clock, so that workers whose clocks disagree still agree on the rate. */
const NOW = `local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)`

/**
 * KEYS: ids, stream, results, done, meta. ARGV: 5 per item: key, content hash, kind (`c` a call, `f` a refused
 * line), line number, payload (the line's text for a call, the result line for a refused one).
 * Returns `{added, same, conflicting keys}`; an id already there with the same hash is skipped, one with another
 * hash is left as it was and returned.
 */
export const push = `local added, same, conflicts = 0, 0, {}
for i = 1, #ARGV, 5 do
  local key, hash, kind, line, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local old = redis.call("HGET", KEYS[1], key)
  if not old then
    redis.call("HSET", KEYS[1], key, hash)
    if kind == "c" then
      redis.call("XADD", KEYS[2], "*", "k", key, "n", line, "t", payload)
    elseif redis.call("HSETNX", KEYS[3], key, payload) == 1 then
      redis.call("RPUSH", KEYS[4], key)
      redis.call("HINCRBY", KEYS[5], "failed", 1)
    end
    added = added + 1
  elseif old == hash then
    same = same + 1
  else
    conflicts[#conflicts + 1] = key
  end
end
return {added, same, conflicts}`

/**
 * KEYS: stream. ARGV: group, consumer, reclaim-after (ms), count. Takes first the items idle in a consumer for
 * longer than reclaim-after (a dead worker's), then new ones. Returns `{reclaimed (0/1), entries}`.
 */
export const take = `local claimed = redis.call("XAUTOCLAIM", KEYS[1], ARGV[1], ARGV[2], ARGV[3], "0-0", "COUNT", ARGV[4])
if #claimed[2] > 0 then return {1, claimed[2]} end
local fresh = redis.call("XREADGROUP", "GROUP", ARGV[1], ARGV[2], "COUNT", ARGV[4], "STREAMS", KEYS[1], ">")
if fresh then return {0, fresh[1][2]} end
return {0, {}}`

/**
 * KEYS: stream, results, done, meta. ARGV: group, entry id, item key, result line, failed (`1`/`0`).
 * The first result of a key wins (`HSETNX`); a later one (a reclaimed item finished twice) only acknowledges.
 * Returns 1 when this result was stored.
 */
export const complete = `${NOW}
local stored = redis.call("HSETNX", KEYS[2], ARGV[3], ARGV[4])
if stored == 1 then
  redis.call("RPUSH", KEYS[3], ARGV[3])
  if ARGV[5] == "1" then redis.call("HINCRBY", KEYS[4], "failed", 1) end
  redis.call("HINCRBY", KEYS[4], "worked", 1)
  redis.call("HSETNX", KEYS[4], "firstAt", now)
  redis.call("HSET", KEYS[4], "lastAt", now)
end
redis.call("XACK", KEYS[1], ARGV[1], ARGV[2])
redis.call("XDEL", KEYS[1], ARGV[2])
return stored`

/**
 * KEYS: stream. ARGV: group, consumer, entry ids. Puts this consumer's unfinished items back as new entries, so
 * that the next worker takes them at once; an entry no longer this consumer's (reclaimed) is left alone.
 */
export const handBack = `local handed = 0
for i = 3, #ARGV do
  local owned = redis.call("XPENDING", KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #owned == 1 then
    local entry = redis.call("XRANGE", KEYS[1], ARGV[i], ARGV[i])
    redis.call("XACK", KEYS[1], ARGV[1], ARGV[i])
    redis.call("XDEL", KEYS[1], ARGV[i])
    if #entry == 1 then
      redis.call("XADD", KEYS[1], "*", unpack(entry[1][2]))
      handed = handed + 1
    end
  end
end
return handed`

/**
 * KEYS: stream. ARGV: group, consumer, entry ids. Resets the idle time of the entries this consumer still owns:
 * the heartbeat that keeps a long call from being reclaimed.
 */
export const touch = `local touched = 0
for i = 3, #ARGV do
  local owned = redis.call("XPENDING", KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #owned == 1 then
    redis.call("XCLAIM", KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], "JUSTID")
    touched = touched + 1
  end
end
return touched`

/**
 * KEYS: stream. ARGV: group, consumer. Removes this consumer from the group when it owns nothing (removing a
 * consumer that owns entries would drop them).
 */
export const leave = `local pending = redis.call("XPENDING", KEYS[1], ARGV[1], "-", "+", 1, ARGV[2])
if #pending == 0 then return redis.call("XGROUP", "DELCONSUMER", KEYS[1], ARGV[1], ARGV[2]) end
return -1`

/**
 * KEYS: ids, stream, results, meta. ARGV: group. Returns `{total, items in the stream, in flight, done, failed,
 * worked, firstAt, lastAt, consumers, now}` (missing counters as 0).
 */
export const counts = `${NOW}
local inFlight, consumers = 0, 0
if redis.call("EXISTS", KEYS[2]) == 1 then
  local ok, summary = pcall(redis.call, "XPENDING", KEYS[2], ARGV[1])
  if ok then inFlight = summary[1] end
  local okc, list = pcall(redis.call, "XINFO", "CONSUMERS", KEYS[2], ARGV[1])
  if okc then consumers = #list end
end
local meta = redis.call("HMGET", KEYS[4], "failed", "worked", "firstAt", "lastAt")
return {redis.call("HLEN", KEYS[1]), redis.call("XLEN", KEYS[2]), inFlight, redis.call("HLEN", KEYS[3]),
  tonumber(meta[1] or "0"), tonumber(meta[2] or "0"), tonumber(meta[3] or "0"), tonumber(meta[4] or "0"),
  consumers, now}`
