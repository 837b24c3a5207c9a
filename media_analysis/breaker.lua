-- One step of a circuit breaker, atomically (media_analysis/breaker.py runs it;
-- MemoryStore there applies the same rules in Python, and the tests run both).
--
-- KEYS: the circuit's hash (state, failures, successes, opened_at) and its sorted
-- set of trial permits scored by expiry.
-- ARGV: op (acquire, success, failure, release, peek), fail_max, reset_timeout,
-- success_threshold, max_trials, permit_seconds, permit id, busy retry seconds.
-- Time is Redis's own clock, the same for every host. Floats go back as strings:
-- Redis would truncate a Lua number to an integer.
local hash, trials = KEYS[1], KEYS[2]
local op, permit = ARGV[1], ARGV[7]
local fail_max, reset_timeout = tonumber(ARGV[2]), tonumber(ARGV[3])
local threshold, max_trials, permit_seconds = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000

local f = redis.call('HMGET', hash, 'state', 'failures', 'successes', 'opened_at')
local state = f[1] or 'closed'
local failures, successes, opened_at = tonumber(f[2]) or 0, tonumber(f[3]) or 0, tonumber(f[4])
local previous, before = state, table.concat({state, failures, successes, tostring(opened_at)}, '|')
local admitted, retry_after, held = 0, 0, false

local function open_circuit(count)
  state, failures, successes, opened_at = 'open', count, 0, now
  redis.call('DEL', trials)
end

if op == 'acquire' then
  if state == 'open' then
    local remaining = (opened_at or 0) + reset_timeout - now
    if remaining > 0 then
      retry_after = remaining
    else
      state, failures, successes = 'half-open', 0, 0
      redis.call('DEL', trials)
    end
  end
  if state == 'half-open' then
    redis.call('ZREMRANGEBYSCORE', trials, '-inf', now)
    if redis.call('ZCARD', trials) >= max_trials then
      retry_after = tonumber(ARGV[8])
    else
      redis.call('ZADD', trials, now + permit_seconds, permit)
      admitted = 1
    end
  elseif state == 'closed' then
    admitted = 1
  end
elseif op == 'success' or op == 'failure' or op == 'release' then
  local expiry = permit ~= '' and redis.call('ZSCORE', trials, permit)
  if expiry then
    redis.call('ZREM', trials, permit)
    held = tonumber(expiry) > now
  end
  if op == 'success' then
    if state == 'closed' then
      failures = 0
    elseif state == 'half-open' and held then
      successes = successes + 1
      if successes >= threshold then
        state, failures, successes, opened_at = 'closed', 0, 0, nil
        redis.call('DEL', trials)
      end
    end
  elseif op == 'failure' then
    if state == 'closed' then
      failures = failures + 1
      if failures >= fail_max then open_circuit(failures) end
    elseif state == 'half-open' and held then
      open_circuit(1)
    end
  end
end

if table.concat({state, failures, successes, tostring(opened_at)}, '|') ~= before then
  redis.call('HSET', hash, 'state', state, 'failures', failures, 'successes', successes)
  if opened_at then
    redis.call('HSET', hash, 'opened_at', tostring(opened_at))
  else
    redis.call('HDEL', hash, 'opened_at')
  end
end

local reported = state
if op == 'peek' and state == 'open' then
  retry_after = math.max(0, (opened_at or 0) + reset_timeout - now)
  if retry_after <= 0 then reported = 'half-open' end
end
local live = redis.call('ZCOUNT', trials, '(' .. tostring(now), '+inf')
local took_permit = (admitted == 1 and state == 'half-open') and 1 or 0
return {reported, previous, admitted, tostring(retry_after), failures, successes,
        tostring(opened_at or ''), live, took_permit}
