--[[
  Raises an open reservation to a total number of seconds (privacy mode's cloud fallback: the edge job
  reserved 0 seconds and its slot; the uploaded audio's seconds are reserved when it arrives), within
  the daily limit. The concurrency slot is the job's already, so concurrency is not checked again.
  Idempotent: the total is absolute, so a retry adds nothing.

  Input:
    KEYS[1] day key     fs:quota:{user}:day:<YYYY-MM-DD>   (the day the job was admitted)
    KEYS[2] active key  fs:quota:{user}:active
    KEYS[3] job key     fs:quota:{user}:job:<jobId>

    ARGV[1] job id
    ARGV[2] total seconds the reservation should hold (integer)
    ARGV[3] daily limit in seconds, -1 = unlimited
    ARGV[4] TTL of the day key in seconds

  Output: { status, used }
     1  the reservation holds the total now (used = seconds used that day)
    -1  daily quota exceeded (used = seconds already used that day); nothing changed
    -3  no open reservation for this job (already settled); nothing changed
]]
--- @include "includes/addToDay"

local dayKey, activeKey, jobKey = KEYS[1], KEYS[2], KEYS[3]
local total, dailyLimit = tonumber(ARGV[2]), tonumber(ARGV[3])

if redis.call('EXISTS', jobKey) == 0 or redis.call('SISMEMBER', activeKey, ARGV[1]) == 0 then
  return { -3, 0 }
end
local held = tonumber(redis.call('HGET', jobKey, 'seconds') or '0')
local delta = total - held
if delta <= 0 then
  return { 1, tonumber(redis.call('GET', dayKey) or '0') }
end
local ok, used = addToDay(dayKey, delta, dailyLimit, tonumber(ARGV[4]))
if not ok then
  return { -1, used }
end
redis.call('HSET', jobKey, 'seconds', total)
return { 1, used }
