/*
 * redis_scripts: the Redis store's Lua scripts. See redis_scripts.h.
 */
#include "core/redis_scripts.h"

const char redis_script_claim[] =
    "local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')\n"
    "if not id then return false end\n"
    "local h = ARGV[1] .. ':job:' .. id\n"
    "local t = redis.call('TYPE', h)['ok']\n"
    "if t ~= 'hash' then\n"
    "  redis.call('LREM', KEYS[2], 1, id)\n"
    "  local why = 'no job hash at ' .. h\n"
    "  if t ~= 'none' then why = 'the key ' .. h .. ' holds a ' .. t .. ', not a job hash' end\n"
    "  redis.call('LPUSH', ARGV[1] .. ':q:reply:' .. id, why)\n"
    "  redis.call('EXPIRE', ARGV[1] .. ':q:reply:' .. id, ARGV[4])\n"
    "  return {id, 'bad', why}\n"
    "end\n"
    "local st, owner, status, a = unpack(redis.call('HMGET', h, 'drover_state', 'drover_owner',\n"
    "                                               'status', 'drover_attempt'))\n"
    "local ended = st == 'success' or st == 'failed' or st == 'cancelled'\n"
    "if (st == 'running' or st == 'dispatched') and owner and owner ~= '' then\n"
    "  redis.call('LREM', KEYS[2], 1, id)\n"
    "  return {id, 'owned', owner}\n"
    "end\n"
    "if ended and status ~= 'dispatched' then\n"
    "  redis.call('LREM', KEYS[2], 1, id)\n"
    "  return {id, 'finished', st}\n"
    "end\n"
    "if ended then\n"
    "  redis.call('HDEL', h, 'drover_max_attempts', 'drover_error_code', 'drover_finished_ms')\n"
    "end\n"
    "local n = tonumber(a)\n"
    "if ended or not n or n < 1 or n > 1000000 or n ~= math.floor(n) then a = '1'\n"
    "else a = string.format('%d', n) end\n"
    "redis.call('HSET', h, 'drover_state', 'dispatched', 'drover_owner', ARGV[2],\n"
    "           'drover_attempt', a, 'drover_queue', KEYS[1], 'updated_at', ARGV[3])\n"
    "redis.call('ZREM', 'drover:retry', id)\n"
    "return {id, 'ok', redis.call('HGETALL', h)}\n";

/* The fence every update of a held job passes: this node, this attempt. */
#define FENCE(node, attempt)                                                                       \
    "local owner, a = unpack(redis.call('HMGET', KEYS[1], 'drover_owner', 'drover_attempt'))\n"    \
    "if owner ~= ARGV[" node "] or a ~= ARGV[" attempt "] then return 0 end\n"

const char redis_script_start[] = FENCE(
    "1",
    "2") "redis.call('HSET', KEYS[1], 'drover_state', 'running', 'status', 'started', 'actor_id',\n"
         "           ARGV[4], 'worker_id', ARGV[4], 'updated_at', ARGV[3],\n"
         "           'drover_max_attempts', ARGV[5], 'drover_deadline_ms', ARGV[6])\n"
         "return 1\n";

const char redis_script_retry[] = FENCE(
    "3", "2") "redis.call('HSET', KEYS[1], 'drover_state', 'retry_wait', 'drover_owner', '',\n"
              "           'drover_attempt', ARGV[4], 'status', 'dispatched', 'error', ARGV[6],\n"
              "           'drover_error_code', ARGV[7], 'updated_at', ARGV[8])\n"
              "redis.call('LREM', KEYS[2], 0, ARGV[1])\n"
              "redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])\n"
              "return 1\n";

const char redis_script_release[] = FENCE(
    "3",
    "2") "redis.call('HSET', KEYS[1], 'drover_state', 'waiting', 'drover_owner', '', 'status',\n"
         "           'dispatched', 'updated_at', ARGV[4])\n"
         "redis.call('LREM', KEYS[2], 0, ARGV[1])\n"
         "redis.call('RPUSH', KEYS[3], ARGV[1])\n"
         "return 1\n";

const char redis_script_submit[] =
    "local t = redis.call('TYPE', KEYS[1])['ok']\n"
    "if t == 'hash' then\n"
    "  local s, ty = unpack(redis.call('HMGET', KEYS[1], 'script', 'script_type'))\n"
    "  if s == ARGV[3] and ty == ARGV[2] then return 0 end\n"
    "  return -1\n"
    "end\n"
    "if t ~= 'none' then return -1 end\n"
    "redis.call('HSET', KEYS[1], 'id', ARGV[1], 'script_type', ARGV[2], 'script', ARGV[3],\n"
    "           unpack(ARGV, 5))\n"
    "if tonumber(ARGV[4]) > 0 then\n"
    "  redis.call('HSET', KEYS[1], 'drover_state', 'delayed', 'drover_queue', KEYS[2])\n"
    "  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])\n"
    "else\n"
    "  redis.call('LPUSH', KEYS[2], ARGV[1])\n"
    "end\n"
    "return 1\n";

const char redis_script_node_beat[] = "local v = redis.call('GET', KEYS[1])\n"
                                      "if v and v ~= ARGV[1] then return 0 end\n"
                                      "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
                                      "return 1\n";

const char redis_script_complete[] =
    "local h = KEYS[1]\n"
    "local owner, attempt = unpack(redis.call('HMGET', h, 'drover_owner', 'drover_attempt'))\n"
    "if owner ~= ARGV[3] or attempt ~= ARGV[2] then return 0 end\n"
    "local st = ARGV[4]\n"
    "local hero = 'error'\n"
    "if st == 'success' then hero = 'finished' end\n"
    "redis.call('HSET', h, 'drover_state', st, 'status', hero, 'output', ARGV[5],\n"
    "           'error', ARGV[6], 'updated_at', ARGV[7], 'drover_finished_ms', ARGV[8],\n"
    "           'drover_owner', '')\n"
    "redis.call('LREM', KEYS[2], 0, ARGV[1])\n"
    "if st == 'success' then redis.call('LPUSH', KEYS[3], ARGV[5])\n"
    "else redis.call('LPUSH', KEYS[3], ARGV[6]) end\n"
    "local ttl = tonumber(ARGV[9])\n"
    "if ttl and ttl > 0 then\n"
    "  redis.call('EXPIRE', KEYS[3], ttl)\n"
    "  redis.call('EXPIRE', h, ttl)\n"
    "end\n"
    "return 1\n";

/*
 * A lost job back on its queue, next in line (requeue_node, unclaim):
 * running, its attempt counts (it may have had effects) and it fails
 * worker_lost when none is left (its hash and reply then expire after ttl
 * seconds); taken but not started, unchanged. ARGV[1] is the prefix,
 * ARGV[2] now_ms.
 */
#define REQUEUE_ONE                                                                                \
    "local function requeue_one(id, ttl)\n"                                                        \
    "  local h = ARGV[1] .. ':job:' .. id\n"                                                       \
    "  local st, a, max, q = unpack(redis.call('HMGET', h, 'drover_state', 'drover_attempt',\n"    \
    "                                          'drover_max_attempts', 'drover_queue'))\n"          \
    "  a = tonumber(a) or 1\n"                                                                     \
    "  max = tonumber(max) or 1\n"                                                                 \
    "  if st == 'dispatched' and q then\n"                                                         \
    "    redis.call('HSET', h, 'drover_state', 'waiting', 'drover_owner', '', 'status',\n"         \
    "               'dispatched')\n"                                                               \
    "    redis.call('RPUSH', q, id)\n"                                                             \
    "  elseif st == 'running' and q and a < max then\n"                                            \
    "    redis.call('HSET', h, 'drover_state', 'waiting', 'drover_owner', '',\n"                   \
    "               'drover_attempt', tostring(a + 1), 'status', 'dispatched',\n"                  \
    "               'drover_error_code', 'worker_lost')\n"                                         \
    "    redis.call('RPUSH', q, id)\n"                                                             \
    "  elseif st == 'running' then\n"                                                              \
    "    local why = 'its node was lost with attempt ' .. a .. ' of ' .. max .. ' running'\n"      \
    "    redis.call('HSET', h, 'drover_state', 'failed', 'drover_owner', '', 'status', 'error',\n" \
    "               'error', why, 'drover_error_code', 'worker_lost',\n"                           \
    "               'drover_finished_ms', ARGV[2])\n"                                              \
    "    redis.call('LPUSH', ARGV[1] .. ':q:reply:' .. id, why)\n"                                 \
    "    redis.call('EXPIRE', h, ttl)\n"                                                           \
    "    redis.call('EXPIRE', ARGV[1] .. ':q:reply:' .. id, ttl)\n"                                \
    "  end\n"                                                                                      \
    "end\n"

const char redis_script_requeue_node[] =
    REQUEUE_ONE "if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end\n"
                "local n = 0\n"
                "while true do\n"
                "  local id = redis.call('RPOP', KEYS[2])\n"
                "  if not id then break end\n"
                "  n = n + 1\n"
                "  requeue_one(id, ARGV[3])\n"
                "end\n"
                "redis.call('ZREM', KEYS[3], ARGV[4])\n"
                "return n\n";

const char redis_script_unclaim[] =
    REQUEUE_ONE "if redis.call('LREM', KEYS[1], 0, ARGV[3]) == 0 then return 0 end\n"
                "local owner = redis.call('HGET', ARGV[1] .. ':job:' .. ARGV[3], 'drover_owner')\n"
                "if owner ~= ARGV[4] then return 0 end\n"
                "requeue_one(ARGV[3], ARGV[5])\n"
                "return 1\n";

const char redis_script_retry_due[] =
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])\n"
    "for _, id in ipairs(ids) do\n"
    "  redis.call('ZREM', KEYS[1], id)\n"
    "  local h = ARGV[1] .. ':job:' .. id\n"
    "  local st, q = unpack(redis.call('HMGET', h, 'drover_state', 'drover_queue'))\n"
    "  if q and (st == 'retry_wait' or st == 'delayed') then\n"
    "    redis.call('HSET', h, 'drover_state', 'waiting', 'status', 'dispatched')\n"
    "    redis.call('LPUSH', q, id)\n"
    "  end\n"
    "end\n"
    "return #ids\n";

const char redis_script_depth[] =
    "local nodes = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
    "local out = {#nodes, redis.call('ZCARD', KEYS[2])}\n"
    "local at = {}\n"
    "for i = 3, #KEYS do\n"
    "  local n = redis.pcall('LLEN', KEYS[i])\n"
    "  if type(n) ~= 'number' then n = -1 end\n"
    "  out[i] = {n, 0, 0}\n"
    "  at[KEYS[i]] = i\n"
    "end\n"
    "for _, node in ipairs(nodes) do\n"
    "  local ids = redis.pcall('LRANGE', 'drover:inflight:' .. node, 0, tonumber(ARGV[3]) - 1)\n"
    "  if type(ids) == 'table' and not ids.err then\n"
    "    for _, id in ipairs(ids) do\n"
    "      local q = redis.pcall('HGET', ARGV[1] .. ':job:' .. id, 'drover_queue')\n"
    "      local i = type(q) == 'string' and at[q]\n"
    "      if i then\n"
    "        out[i][2] = out[i][2] + 1\n"
    "        if node == ARGV[2] then out[i][3] = out[i][3] + 1 end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";
