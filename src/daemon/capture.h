/*
 * capture: captured output (`output`/`error` as "drover" or an object):
 * each captured stream of an instance slot is a named FIFO in drover's
 * runtime directory that the child writes to and drover reads from the
 * loop, line by line, into the slot's tail ring and on to a rotated file or
 * drover's own stderr (docs/config.md#captured-output, docs/checkpoint.md).
 *
 * The FIFO, <rundir>/out-<key>/<program>-<index>.out|.err (mode 0600), is
 * held open O_RDWR by drover and O_RDWR by the child: an O_RDWR descriptor
 * counts as a reader, so the child never gets EPIPE or SIGPIPE, even when
 * drover is gone; its writes block once the pipe (raised to 1 MiB) is
 * full. A drover restarted with --adopt opens the same FIFO again by its
 * path (derived from the dumpfile, the program and the index) and reads on.
 * Nothing here waits: the FIFO is read non-blocking, at most
 * CAPTURE_READ_BUDGET bytes per stream per pass of the loop, so a child
 * that writes faster than drover can take fills its pipe and blocks while
 * the loop serves everyone else.
 */
#ifndef DROVER_CAPTURE_H
#define DROVER_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/cfg.h"
#include "core/tmpl.h"

struct instance;
struct program;
struct supervisor;

/* Bytes read from one stream per pass of the loop. */
#define CAPTURE_READ_BUDGET 65536
/* The pipe size asked for (best effort: /proc/sys/fs/pipe-max-size caps it for non-root). */
#define CAPTURE_PIPE_SIZE (1 << 20)
/* While a file cannot be written (ENOSPC, EIO), another try at most this often. */
#define CAPTURE_RETRY_MS 1000

/*
 * The child's end of its captured stream k: opens the slot's FIFO for
 * drover first (once; then it stays), and the stream's file (at each spawn,
 * so a new template or an outside rotation takes effect), then returns in
 * *ret_fd a blocking O_RDWR descriptor of the FIFO for the child. Logs what
 * fails. Returns 0 or -errno.
 */
int capture_child_fd(struct instance *in, enum cfg_stream k, const struct tmpl_vars *vars,
                     int *ret_fd);

/* An earlier drover's process was adopted: its captured streams' FIFOs are read again. */
void capture_adopted(struct instance *in);

/* The slot's process is left running at exit (adopted): its FIFOs stay for the next drover. */
void capture_keep(struct instance *in);

/* Frees the slot's capture (its slot goes): closes the FIFOs and removes them unless kept. */
void capture_free(struct instance *in);

/* At exit, once the programs are freed: the FIFO directory goes if nothing was kept in it. */
void capture_dir_done(struct supervisor *sup);

/* One kept line, for GET /logs: text borrowed until the loop next runs. */
struct capture_line {
    uint64_t seq;
    int64_t unix_ms;
    const char *text;
    size_t len;
    unsigned index; /* the instance */
    enum cfg_stream stream;
    bool cut; /* cut at LINEASM_MAX: the next line of this stream continues it */
};

/*
 * The lines kept for prog's instances (only `index` unless it is -1) and
 * the streams in mask (1u << CFG_STREAM_*), in order: the last max lines
 * when since is 0, else the first max lines from seq since on. Returns
 * how many are in *ret (owned by the caller, free()), or -ENOMEM.
 * *ret_next is the seq to ask from next time.
 */
ssize_t capture_lines(struct program *prog, long index, unsigned mask, size_t max, uint64_t since,
                      struct capture_line **ret, uint64_t *ret_next);

/* Totals for /metrics and status: lines read, dropped (disk full, stderr busy), cut. */
struct capture_counts {
    uint64_t lines, dropped, cut;
};
void capture_counts(const struct instance *in, struct capture_counts *ret);

#endif
