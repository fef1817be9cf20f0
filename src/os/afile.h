/*
 * afile: a small file replaced atomically and read only when it can be
 * trusted: the checkpoint (--dumpfile) is the one drover keeps. afile_save()
 * writes a temporary file in the same directory (O_TMPFILE and linkat, or a
 * random name created O_EXCL | O_NOFOLLOW), fsyncs it, renames it over the
 * old file and fsyncs the directory; on failure the previous file is intact.
 * No logging: errors are returned (-errno, and words for afile_load()).
 */
#ifndef DROVER_AFILE_H
#define DROVER_AFILE_H

#include <stddef.h>

/*
 * Atomically replaces path with data. Returns 0 or -errno; the old file
 * survives any failure. -EEXIST: something other than a regular file is at
 * path (a device, a FIFO, a symbolic link, a directory), which is never
 * replaced: --dumpfile /dev/null by mistake must not cost the system its
 * /dev/null.
 */
int afile_save(const char *path, const char *data, size_t len);

/*
 * Reads path (at most max_bytes) without ever blocking: it is opened
 * O_NONBLOCK | O_NOFOLLOW, and a device or FIFO is not opened at all.
 * Returns 0 with a malloc'ed buffer, or -errno with what is wrong in err,
 * worded to follow the path ("is not a regular file (a FIFO)"): -EPERM
 * when the file is not to be trusted (a symbolic link, not a regular file,
 * owned by another uid than drover's effective one, writable by group or
 * others), -EFBIG when larger, -ENOENT when missing.
 */
int afile_load(const char *path, size_t max_bytes, char **ret_data, size_t *ret_len, char *err,
               size_t errsize);

#endif
