--[[
  Replaces the quota counters with a ledger snapshot, atomically with respect to reserve and settle.

  The snapshot was read from Postgres before this script runs, so a job may have settled in between:
  its refund row is not in the snapshot, but settle-4.lua left a tombstone. Such a reservation is not
  brought back; its refund comes off the day instead. Tombstones themselves survive the rebuild.

  Keys are computed here from the prefix (this script touches every user: run it on a single Redis,
  not a cluster).

  Input:
    ARGV[1] key prefix (fs:quota:)
    ARGV[2] JSON [[userId, day, seconds], …]      net seconds per user and day
    ARGV[3] JSON [[userId, jobId, day, seconds], …] open reservations
    ARGV[4] TTL of day keys in seconds
    ARGV[5] built marker value (ISO time)

  Output: { restored, skipped }  open reservations restored / skipped because already settled
]]
--- @include "includes/refundToDay"

local prefix = ARGV[1]
local ttl = tonumber(ARGV[4])
local cursor = '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', prefix .. '*', 'COUNT', 500)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    if not string.find(key, ':settled:', 1, true) then redis.call('DEL', key) end
  end
until cursor == '0'

for _, u in ipairs(cjson.decode(ARGV[2])) do
  redis.call('SET', prefix .. '{' .. u[1] .. '}:day:' .. u[2], u[3], 'EX', ttl)
end

local restored, skipped = 0, 0
for _, r in ipairs(cjson.decode(ARGV[3])) do
  local user, job, day, seconds = r[1], r[2], r[3], r[4]
  local refund = redis.call('GET', prefix .. '{' .. user .. '}:settled:' .. job)
  if refund then
    skipped = skipped + 1
    refundToDay(prefix .. '{' .. user .. '}:day:' .. day, tonumber(refund))
  else
    restored = restored + 1
    redis.call('SADD', prefix .. '{' .. user .. '}:active', job)
    redis.call('HSET', prefix .. '{' .. user .. '}:job:' .. job, 'user', user, 'day', day, 'seconds', seconds)
  end
end
redis.call('SET', prefix .. 'built', ARGV[5])
return { restored, skipped }
