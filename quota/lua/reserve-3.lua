--[[
  Reserves audio seconds and a concurrency slot for one job, atomically.

  Input:
    KEYS[1] day key     fs:quota:{user}:day:<YYYY-MM-DD>   seconds reserved or charged that UTC day
    KEYS[2] active key  fs:quota:{user}:active             set of job ids holding a concurrency slot
    KEYS[3] job key     fs:quota:{user}:job:<jobId>        hash {user, day, seconds}: the reservation

    ARGV[1] job id
    ARGV[2] seconds to reserve (integer)
    ARGV[3] daily limit in seconds, -1 = unlimited
    ARGV[4] concurrent jobs limit
    ARGV[5] user id
    ARGV[6] day (YYYY-MM-DD)
    ARGV[7] TTL of the day key in seconds

  Output: { status, used }
     1  reserved (or already reserved for this job: idempotent)
    -1  daily quota exceeded       (used = seconds already used that day)
    -2  concurrency limit reached  (used = active jobs)
]]
--- @include "includes/addToDay"

local dayKey, activeKey, jobKey = KEYS[1], KEYS[2], KEYS[3]
local jobId, seconds = ARGV[1], tonumber(ARGV[2])
local dailyLimit, concurrentLimit = tonumber(ARGV[3]), tonumber(ARGV[4])

if redis.call('EXISTS', jobKey) == 1 then
  return { 1, tonumber(redis.call('GET', dayKey) or '0') }
end

local active = redis.call('SCARD', activeKey)
if active >= concurrentLimit then
  return { -2, active }
end

local ok, used = addToDay(dayKey, seconds, dailyLimit, tonumber(ARGV[7]))
if not ok then
  return { -1, used }
end
redis.call('SADD', activeKey, jobId)
redis.call('HSET', jobKey, 'user', ARGV[5], 'day', ARGV[6], 'seconds', seconds)
return { 1, used }
