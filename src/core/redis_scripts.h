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
 * claim: KEYS a type's queue, this node's inflight list; ARGV prefix, node,
 * updated_at, failed_ttl (seconds). Moves the queue's next id (its tail) to
 * the inflight list and makes the job this node's: drover_state
 * dispatched, drover_owner node, drover_attempt (kept, or 1 when absent,
 * not a whole number from 1 to 1,000,000, or the job ended and its client
 * sent it back), drover_queue; out of drover:retry if a client pushed it
 * while it waited there. Returns false when the queue is empty, else {id,
 * "ok", HGETALL}; or {id, why, text} for an id not taken: "bad" (no hash
 * at its key, or a key of another type: the text is pushed on its reply
 * list too, which expires after failed_ttl), "owned" (a node, this one
 * too, holds it: its id was pushed twice; the text names the node),
 * "finished" (it ended, and its client did not set status back to
 * dispatched for another run).
 */
extern const char redis_script_claim[];

/*
 * start: KEYS job hash; ARGV node, attempt, updated_at, actor, attempts,
 * deadline_ms. The worker started: status started, drover_state running,
 * actor_id and worker_id, drover_max_attempts (all tries, as this node read
 * them from retries or drover_max_attempts), so that the node that requeues
 * it after this one's death knows whether a try is left, and
 * drover_deadline_ms (unix ms when it times out; 0 none).
 * Returns 1, or 0 when not this node's attempt (fenced, nothing written).
 */
extern const char redis_script_start[];

/*
 * retry: KEYS job hash, this node's inflight list, the retry zset; ARGV id,
 * attempt (the one that failed), node, next attempt, due_ms, error,
 * error_code, updated_at. The attempt failed and another is due: the job is
 * nobody's until due_ms, when retry_due queues it for any node. 1, or 0
 * when fenced.
 */
extern const char redis_script_retry[];

/*
 * release: KEYS job hash, this node's inflight list, its queue; ARGV id,
 * attempt, node, updated_at. This node gives back a job it took and did not
 * start (it stops): next in line again, its attempt unchanged. 1, or 0 when
 * fenced.
 */
extern const char redis_script_release[];

/*
 * submit: KEYS job hash, the type's queue, the retry zset; ARGV id, type,
 * payload, due_ms (0: now), then more field, value pairs. A new job: its
 * hash is written and its id pushed (LPUSH, like a Hero client), or with a
 * due_ms, put in the retry zset (drover_state delayed), which retry_due
 * queues when due. Returns 1 new, 0 the same id with the same payload and
 * type is there (nothing written), -1 another job has it.
 */
extern const char redis_script_submit[];

/*
 * node_beat: KEYS the node's liveness key; ARGV token, ttl_ms. Sets it (PX)
 * when it is absent or this drover's (its token). 1, or 0: another drover
 * holds this node name.
 */
extern const char redis_script_node_beat[];

/*
 * complete: KEYS job hash, this node's inflight list, the reply list;
 * ARGV id, attempt, node, state (success | failed | cancelled), output,
 * error, updated_at (ISO 8601), finished_ms, ttl_s (0: none).
 * Returns 1, or 0 when the job is not this node's attempt (a stale result:
 * nothing is written).
 */
extern const char redis_script_complete[];

/*
 * requeue_node: KEYS the node's liveness key, its inflight list,
 * drover:nodes; ARGV prefix, now_ms, failed_ttl (seconds), the node.
 * Returns -1 while the node is alive (nothing done), else how many ids it
 * took out of the inflight list: a dispatched job goes back next in line,
 * attempt unchanged; a running one next in line with its attempt counted,
 * or failed ("worker_lost", its reply pushed, both expiring after
 * failed_ttl) when none is left; any other is only dropped from the list.
 * The node leaves drover:nodes in the same step.
 */
extern const char redis_script_requeue_node[];

/*
 * unclaim: KEYS this node's inflight list; ARGV prefix, now_ms, id, node,
 * failed_ttl (seconds).
 * An id in the node's inflight list that the node does not hold (its claim's
 * answer was lost with the connection, or the drover restarted) goes back
 * as requeue_node would send it. 1, or 0 when it was not there or not this
 * node's (only dropped from the list).
 */
extern const char redis_script_unclaim[];

/*
 * retry_due: KEYS the retry zset (scored by due ms); ARGV prefix, now_ms,
 * limit. Each due id whose job still waits there (retry_wait, delayed) goes
 * to the back of its queue, waiting; any other is only dropped from the
 * set. Returns how many ids it looked at.
 */
extern const char redis_script_retry_due[];

/*
 * depth: KEYS drover:nodes, the retry zset, then each type's queue; ARGV
 * prefix, this node, the most ids read of one node's inflight list. The
 * cluster's backlog, for /queues and autoscaling: {nodes, retry_wait, then
 * per queue {waiting (LLEN; -1 when the key holds no list), in flight on
 * every node, of them on this node}}. In flight is counted by each held
 * job's drover_queue, so it costs one HGET per job held cluster-wide (a
 * few per instance), not per job waiting.
 */
extern const char redis_script_depth[];

#endif
