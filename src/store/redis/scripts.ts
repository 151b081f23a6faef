/**
 * NAME
 *   store/redis/scripts - the Lua scripts that make each RedisStore write one atomic unit
 *
 * SYNOPSIS
 *   PUT_LISTING, PUT_ALLOW, REMOVE_ALLOW, PUT_REQUEST, APPROVE_REQUEST, PUT_CONTACT, LEASE
 *   script.run(redis, keys, args): Promise<unknown>     EVALSHA, then EVAL on NOSCRIPT
 *
 * DESCRIPTION
 *   Redis runs a script alone: no other client sees a state between its first and last
 *   command. Every audited write is one script covering the record, its index entries, the
 *   audit entry (id from INCR, trimmed to the cap) and the PUBLISH of its event, so a node that
 *   hears the event already reads the new record.
 *
 *   Redis does NOT roll a script back when it fails half-way, so every script checks ALL its
 *   arguments before its first write (state names, order members, times, non-empty JSON) and
 *   answers `BSERR <what>` without writing anything when one is wrong.
 *
 *   Calling convention of the audited writes (shared prelude):
 *     KEYS[1..3]  audit data hash, audit order set, audit sequence
 *     ARGV[1..5]  audit time (16 digits), audit JSON (no id), audit cap, channel, event JSON
 *                 ('' = nothing to publish)
 *     KEYS[4..], ARGV[6..]  the record's own, per script (see each).
 *
 *   The scripts are sent by SHA1 (EVALSHA); after a Redis restart (no persistence, empty
 *   script cache) the NOSCRIPT answer makes `run` send the source once (EVAL).
 *
 * SEE ALSO
 *   store/redis/keys.ts (the keys), store/redis/redis-store.ts (the callers).
 */
import { createHash } from 'node:crypto';

import type { Redis } from 'ioredis';

/** LuaScript - a script's source and SHA1; run() tries EVALSHA, falls back to EVAL. */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return redis.eval(this.source, keys.length, ...keys, ...args);
      }
      throw err;
    }
  }
}

/** Shared helpers: argument checks, order-set re-indexing, the audit append with its cap. */
export const PRELUDE = `
local function badTime(s)
  return type(s) ~= 'string' or #s ~= 16 or string.find(s, '%D') ~= nil
end
local function badMember(m)
  return type(m) ~= 'string' or #m < 18 or badTime(string.sub(m, 1, 16)) or string.sub(m, 17, 17) ~= '|'
end
local function auditProblem()
  if badTime(ARGV[1]) then return 'audit time is not 16 digits' end
  if ARGV[2] == nil or ARGV[2] == '' then return 'audit entry is empty' end
  local cap = tonumber(ARGV[3])
  if cap == nil or cap < 1 then return 'audit cap is not a positive number' end
  return nil
end
local function appendAudit()
  local seq = redis.call('INCR', KEYS[3])
  local id = string.format('%012d', seq)
  redis.call('HSET', KEYS[1], id, ARGV[2])
  redis.call('ZADD', KEYS[2], 0, ARGV[1] .. '|' .. id)
  local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
  if excess > 0 then
    local old = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
    for _, m in ipairs(old) do redis.call('HDEL', KEYS[1], string.sub(m, 18)) end
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
  end
  if ARGV[5] ~= nil and ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
  return id
end
-- reindex: move a record's member from its old order sets to the new ones, write the record.
local function reindex(record, allSet, stateSets, newState, newMember, json)
  local old = redis.call('HMGET', record, 'state', 'member')
  if old[2] then
    redis.call('ZREM', allSet, old[2])
    if old[1] and stateSets[old[1]] then redis.call('ZREM', stateSets[old[1]], old[2]) end
  end
  redis.call('ZADD', allSet, 0, newMember)
  if newState then
    redis.call('ZADD', stateSets[newState], 0, newMember)
    redis.call('HSET', record, 'json', json, 'state', newState, 'member', newMember)
  else
    redis.call('HSET', record, 'json', json, 'member', newMember)
  end
end
local function fail(msg) return redis.error_reply('BSERR ' .. msg) end
`;

/**
 * PUT_LISTING. KEYS[4] listing hash, [5] all-listings set, [6..8] active/cleared/expired sets,
 * [9] due set. ARGV[6] json, [7] state, [8] member, [9] recheckDueAt, [10] ip, [11] '1': only
 * when the stored listing is not active (else returns 0: nothing written, no audit, no event).
 */
export const PUT_LISTING = new LuaScript(
  'put-listing',
  `${PRELUDE}
local states = { active = KEYS[6], cleared = KEYS[7], expired = KEYS[8] }
local problem = auditProblem()
if problem then return fail(problem) end
if ARGV[6] == nil or ARGV[6] == '' then return fail('listing record is empty') end
if states[ARGV[7]] == nil then return fail('listing state is not active, cleared or expired') end
if badMember(ARGV[8]) then return fail('listing order member is malformed') end
local due = tonumber(ARGV[9])
if due == nil then return fail('recheckDueAt is not a number') end
if ARGV[10] == nil or ARGV[10] == '' then return fail('listing ip is empty') end
if ARGV[11] == '1' and redis.call('HGET', KEYS[4], 'state') == 'active' then return 0 end
reindex(KEYS[4], KEYS[5], states, ARGV[7], ARGV[8], ARGV[6])
if ARGV[7] == 'active' then
  redis.call('ZADD', KEYS[9], ARGV[9], ARGV[10])
else
  redis.call('ZREM', KEYS[9], ARGV[10])
end
return appendAudit()
`,
);

/** PUT_ALLOW. KEYS[4] allow hash. ARGV[6] id, [7] json. */
export const PUT_ALLOW = new LuaScript(
  'put-allow',
  `${PRELUDE}
local problem = auditProblem()
if problem then return fail(problem) end
if ARGV[6] == nil or ARGV[6] == '' then return fail('allow id is empty') end
if ARGV[7] == nil or ARGV[7] == '' then return fail('allow record is empty') end
redis.call('HSET', KEYS[4], ARGV[6], ARGV[7])
return appendAudit()
`,
);

/** REMOVE_ALLOW. KEYS[4] allow hash. ARGV[6] id. Returns 0 (no audit, no event) when absent. */
export const REMOVE_ALLOW = new LuaScript(
  'remove-allow',
  `${PRELUDE}
local problem = auditProblem()
if problem then return fail(problem) end
if redis.call('HDEL', KEYS[4], ARGV[6]) == 0 then return 0 end
appendAudit()
return 1
`,
);

/** Request checks and write, shared by PUT_REQUEST and APPROVE_REQUEST. */
const REQUEST_BODY = `
local states = { pending = KEYS[6], approved = KEYS[7], denied = KEYS[8] }
local problem = auditProblem()
if problem then return fail(problem) end
if ARGV[6] == nil or ARGV[6] == '' then return fail('request record is empty') end
if states[ARGV[7]] == nil then return fail('request state is not pending, approved or denied') end
if badMember(ARGV[8]) then return fail('request order member is malformed') end
`;

/**
 * PUT_REQUEST. KEYS[4] request hash, [5] all-requests set, [6..8] pending/approved/denied sets.
 * ARGV[6] json, [7] state, [8] member.
 */
export const PUT_REQUEST = new LuaScript(
  'put-request',
  `${PRELUDE}${REQUEST_BODY}
reindex(KEYS[4], KEYS[5], states, ARGV[7], ARGV[8], ARGV[6])
return appendAudit()
`,
);

/** APPROVE_REQUEST. As PUT_REQUEST, plus KEYS[9] allow hash, ARGV[9] allow id, [10] allow json. */
export const APPROVE_REQUEST = new LuaScript(
  'approve-request',
  `${PRELUDE}${REQUEST_BODY}
if ARGV[9] == nil or ARGV[9] == '' then return fail('allow id is empty') end
if ARGV[10] == nil or ARGV[10] == '' then return fail('allow record is empty') end
reindex(KEYS[4], KEYS[5], states, ARGV[7], ARGV[8], ARGV[6])
redis.call('HSET', KEYS[9], ARGV[9], ARGV[10])
return appendAudit()
`,
);

/** PUT_CONTACT. KEYS[4] contact hash, [5] contacts set. ARGV[6] json, [7] member. */
export const PUT_CONTACT = new LuaScript(
  'put-contact',
  `${PRELUDE}
local problem = auditProblem()
if problem then return fail(problem) end
if ARGV[6] == nil or ARGV[6] == '' then return fail('contact record is empty') end
if badMember(ARGV[7]) then return fail('contact order member is malformed') end
reindex(KEYS[4], KEYS[5], {}, nil, ARGV[7], ARGV[6])
return appendAudit()
`,
);

/**
 * LEASE. KEYS[1] lease key. ARGV[1] holder, [2] now (ms, the store's clock), [3] ttl ms,
 * [4] now + ttl as decimal text (computed in JS: Lua 5.1 numbers print in exponent form).
 * The value is `<expiresAt>\\n<holder>`; free, expired (by the store's clock) or held by the
 * same holder: (re)written with PX ttl, answer 1. Held by another: answer 0.
 */
export const LEASE = new LuaScript(
  'lease',
  `
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
if now == nil or ttl == nil or ttl < 1 or tonumber(ARGV[4]) == nil then return redis.error_reply('BSERR lease time or ttl is not valid') end
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, '\\n', 1, true)
  if sep then
    local expires = tonumber(string.sub(cur, 1, sep - 1))
    local holder = string.sub(cur, sep + 1)
    if holder ~= ARGV[1] and expires ~= nil and expires > now then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[4] .. '\\n' .. ARGV[1], 'PX', ttl)
return 1
`,
);
