/*
 * redis_scripts: the Lua scripts of the Redis store (JOBS.md §6.7, issue
 * 15), run with EVALSHA (EVAL when the server does not know the sha). They
 * are where the store's guarantees live, since each runs atomically on the
 * server: a result counts only from the node and attempt that own the job
 * (the fence), and a dead node's jobs go back on their queue exactly once.
 *
 * A job hash (PREFIX:job:ID) carries, besides Hero's fields, drover_state,
 * drover_attempt (the delivery now out or next), drover_max_attempts,
 * drover_owner (the node holding it; "" none) and drover_queue (the list it
 * was taken from, where it goes back). Nodes take ids from a queue's tail
 * (BLMOVE queue RIGHT inflight LEFT), so RPUSH puts a job next in line and
 * LPUSH at the back.
 *
 * Pure: text only. Keys a script derives from ids (PREFIX:job:ID) make it
 * single-instance Redis only, not Redis Cluster (docs/jobs-redis.md).
 */
#ifndef DROVER_REDIS_SCRIPTS_H
#define DROVER_REDIS_SCRIPTS_H

/*
 * complete: KEYS job hash, this node's inflight list, the reply list;
 * ARGV id, attempt, node, state (success | failed | cancelled), output,
 * error, updated_at (ISO 8601), finished_ms, ttl_s (0: none).
 * Returns 1, or 0 when the job is not this node's attempt (a stale result:
 * nothing is written).
 */
extern const char redis_script_complete[];

/*
 * requeue_node: KEYS the node's liveness key, its inflight list; ARGV
 * prefix, now_ms. Returns -1 while the node is alive (nothing done), else
 * how many ids it took out of the inflight list: a dispatched job goes back
 * next in line, attempt unchanged; a running one next in line with its
 * attempt counted, or failed ("worker_lost", its reply pushed) when none is
 * left; any other is only dropped from the list.
 */
extern const char redis_script_requeue_node[];

/*
 * retry_due: KEYS the retry zset (scored by due ms); ARGV prefix, now_ms,
 * limit. Each due id goes to the back of its queue, waiting. Returns how
 * many.
 */
extern const char redis_script_retry_due[];

#endif
