--[[
  Takes a sender's turn for one new message: a token from the sender's bucket
  and, when slow mode is on, the sender's slow-mode window. Both or nothing:
  a refused message takes neither, so a refusal never costs a later turn.
  Time is the Redis server's, so every instance agrees on it.

  Input:
    KEYS[1] the sender's token bucket (hash: tokens, at)
    KEYS[2] the sender's slow-mode window on the site (a string with a TTL)

    ARGV[1] refill rate, tokens per second (0: no bucket)
    ARGV[2] bucket capacity: the burst
    ARGV[3] slow-mode window, ms (0: slow mode off)

  Output:
    {0, 0}       taken
    {1, waitMs}  refused, the bucket is empty: a token is back in waitMs
    {2, waitMs}  refused by slow mode: the window ends in waitMs
]]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local slowMs = tonumber(ARGV[3])

if slowMs > 0 then
  local left = redis.call('PTTL', KEYS[2])
  if left > 0 then
    return {2, left}
  end
end

if rate > 0 then
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
  local tokens = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
  if tokens < 1 then
    return {1, math.max(1, math.ceil((1 - tokens) * 1000 / rate))}
  end
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', now)
  -- an untouched bucket is full again within this, and a missing bucket counts as full
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
end

if slowMs > 0 then
  redis.call('SET', KEYS[2], '1', 'PX', slowMs)
end
return {0, 0}
