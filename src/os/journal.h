/*
 * journal: an append-only log of text lines in a directory, made durable
 * by group commit on one helper thread, and compacted by snapshot and
 * rename (the file store of jobs, JOBS.md §6.7, docs/jobs.md#durability).
 *
 * Files: DIR/journal.N, N from 1. Lines go to the highest one. Compaction
 * writes DIR/journal.N+1.tmp (its first lines are the snapshot the caller
 * gives, then whatever is appended after), fsyncs it, renames it to
 * journal.N+1, fsyncs DIR and removes the lower segments. A segment whose
 * first line the caller calls a snapshot makes every lower one redundant
 * (a crash between the rename and the removals leaves them), and a .tmp is
 * a compaction that never finished: both are removed at open.
 *
 * Threads: the loop's thread does everything but fdatasync, fsync, rename
 * and unlink of a compaction, which one helper thread does, so a slow disk
 * never stalls the loop. Appends are buffered and written (write(2)) before
 * the loop sleeps; the thread syncs what was written and says so on an
 * eventfd. Each line is appended with the caller's sequence number, and
 * journal_synced() is the highest one on disk; a sync is asked at once
 * when an urgent line (a submit waiting for its answer) is written, else
 * within JOURNAL_GROUP_MS, and never with sync off. A failed write is tried
 * again; a failed sync is final (the kernel may have dropped the pages and
 * reports it once): journal_error() says so from then on, lines are still
 * written, and no sync is asked any more.
 *
 * Trust: DIR must be a directory (not a symbolic link) owned by the
 * effective uid and not writable by group or others; segments are opened
 * O_NOFOLLOW and must be regular files owned by the effective uid. A
 * journal hands jobs to workers: one forged by another user must never be
 * read.
 */
#ifndef DROVER_JOURNAL_H
#define DROVER_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "os/loop.h"
#include "os/timer.h"

#define JOURNAL_GROUP_MS 50                    /* transitions are synced within this */
#define JOURNAL_COMPACT_BYTES (64ull << 20)    /* compact past this in any case */
#define JOURNAL_COMPACT_MIN_BYTES (1ull << 20) /* and never below this */
#define JOURNAL_ERR_MAX 512

struct journal;

/* The thread synced more (journal_synced() grew), or a write or sync failed. */
typedef void (*journal_synced_fn)(void *arg);

/* A complete line of a segment, without its "\n"; file and lineno say where. 0 goes on. */
typedef void (*journal_line_fn)(void *arg, const char *line, size_t len, const char *file,
                                size_t lineno);
/* When line is a snapshot's first line (its segment makes the lower ones redundant): the
   number of lines the snapshot holds after it; -1 when it is not one. */
typedef long (*journal_is_snapshot_fn)(const char *line, size_t len);

/*
 * Opens dir (made 0700 when missing, its parent must exist), reads every
 * live segment in order into fn (a torn last line, one without its "\n",
 * is cut off the file and logged), and starts the thread. The loop source
 * and timer are registered on loop and timers; timers may be armed later
 * (the heap need not exist yet). sync false: never fdatasync (jobs.fsync
 * "never"). Logs what it removed or cut; 0, or -errno with err set.
 */
int journal_open(struct journal **ret, const char *dir, bool sync, struct loop *loop,
                 struct timers *timers, journal_is_snapshot_fn is_snapshot, journal_line_fn fn,
                 void *arg, journal_synced_fn synced, void *synced_arg, char *err, size_t errsize);
/* Writes what is left, waits for its sync, stops the thread, closes; NULL is fine. */
void journal_close(struct journal *j);

/* Appends a line (len bytes, ending in "\n"), copied, with sequence number seq. -ENOMEM. */
int journal_append(struct journal *j, const char *line, size_t len, uint64_t seq, bool urgent);
/* Before the loop sleeps: writes the buffered lines and asks for their sync. */
void journal_flush(struct journal *j);
/* The highest seq on disk (with sync off: written); 0 none yet. */
uint64_t journal_synced(const struct journal *j);
/* The last write or sync failure, worded ("write journal.3: No space left on device"); NULL. */
const char *journal_error(const struct journal *j);

/* The segments since the last snapshot have outgrown it (see the constants). */
bool journal_wants_compaction(const struct journal *j);
/*
 * Compaction: begin, append the snapshot's lines (the first one a snapshot
 * line), end. Lines appended after end go after the snapshot. Between begin
 * and end nothing is written. end(ok false) forgets the snapshot and keeps
 * the old segments. begin: 0 or -errno (logged; the journal goes on as it was).
 */
int journal_compact_begin(struct journal *j);
void journal_compact_end(struct journal *j, bool ok);

/* Bytes in the live segments, and in the last snapshot (0: none since open). */
uint64_t journal_bytes(const struct journal *j);

#endif
