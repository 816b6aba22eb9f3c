--[[
  Ends a job's reservation: keeps the billed seconds on its day, gives back the rest and frees the
  concurrency slot. Charge (billed > 0) and release (billed = 0) are the same operation.
  Idempotent: a second call for the same job finds no reservation and changes nothing.

  It also leaves a tombstone holding the refund, even when Redis has no reservation (it lost its data
  and is not rebuilt yet): a rebuild working from a ledger snapshot taken before this settlement
  committed would otherwise bring the reservation back and hold the slot for ever (rebuild-0.lua reads it).

  Input:
    KEYS[1] day key        fs:quota:{user}:day:<YYYY-MM-DD>   (the day the job was admitted)
    KEYS[2] active key     fs:quota:{user}:active
    KEYS[3] job key        fs:quota:{user}:job:<jobId>
    KEYS[4] tombstone key  fs:quota:{user}:settled:<jobId>

    ARGV[1] job id
    ARGV[2] billed seconds (integer)
    ARGV[3] reserved seconds, from the ledger (integer)
    ARGV[4] TTL of the tombstone in seconds

  Output: { settled, refunded }
    settled   1 if this call ended the reservation, 0 if there was none (already settled)
    refunded  seconds given back to the day
]]
--- @include "includes/refundToDay"

local dayKey, activeKey, jobKey, tombKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local ledgerReserved = tonumber(ARGV[3])
redis.call('SET', tombKey, ledgerReserved - math.min(tonumber(ARGV[2]), ledgerReserved), 'NX', 'EX', tonumber(ARGV[4]))
local reserved = tonumber(redis.call('HGET', jobKey, 'seconds') or '-1')
redis.call('SREM', activeKey, ARGV[1])
if reserved < 0 then
  return { 0, 0 }
end
local billed = math.min(tonumber(ARGV[2]), reserved)
local refund = reserved - billed
refundToDay(dayKey, refund)
redis.call('DEL', jobKey)
return { 1, refund }
