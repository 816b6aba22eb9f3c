--[[
  Adds seconds to a user's day counter if the daily limit allows them (reserve-3.lua, extend-3.lua).

    dayKey      fs:quota:{user}:day:<YYYY-MM-DD>
    seconds     seconds to add (integer, >= 0: an edge job reserves 0 and only its slot)
    dailyLimit  seconds per UTC day, -1 = unlimited
    ttl         TTL of the day key in seconds (refreshed on every add)

  Returns ok, used:
    true,  seconds used that day after the add
    false, seconds used that day before (nothing changed: the add would pass the limit)
]]
local function addToDay(dayKey, seconds, dailyLimit, ttl)
  local used = tonumber(redis.call('GET', dayKey) or '0')
  if dailyLimit >= 0 and used + seconds > dailyLimit then
    return false, used
  end
  redis.call('INCRBY', dayKey, seconds)
  redis.call('EXPIRE', dayKey, ttl)
  return true, used + seconds
end
