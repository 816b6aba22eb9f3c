--[[
  Gives seconds back to a user's day counter (settle-4.lua, rebuild-0.lua). A day key that is gone
  (expired, or Redis lost its data and the rebuild has not restored it) is left alone: creating it
  here would start the day at minus the refund.

    dayKey   fs:quota:{user}:day:<YYYY-MM-DD>
    seconds  seconds to give back (integer; <= 0 changes nothing)
]]
local function refundToDay(dayKey, seconds)
  if seconds > 0 and redis.call('EXISTS', dayKey) == 1 then
    redis.call('DECRBY', dayKey, seconds)
  end
end
