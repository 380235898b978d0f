--[[
  Counts one hit in a fixed window that starts with its first hit.

  Input:
    KEYS[1] the window's counter

    ARGV[1] window length, ms

  Output:
    {hits, leftMs}  hits in the current window, this one included, and how
                    long the window still runs
]]
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  -- a counter without expiry (its PEXPIRE never ran): close the window now
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {hits, left}
