/*
 * sockfile: a unix socket's file on disk, before drover binds one there.
 *
 * A socket file outlives the program that bound it, so a path can hold a
 * stale socket (its owner died) or a live one (someone serves it). Only a
 * connect() can tell them apart: ECONNREFUSED means nobody is bound to it.
 * sockfile_clear() removes a stale socket and nothing else, so drover never
 * takes over another program's live socket, nor deletes a file that is not
 * a socket. Callers that need one drover per path also hold a lock (api/control.c).
 *
 * "Connect is refused, so unlink" is check-then-act: in a directory where
 * several drovers of one user bind sockets (drover's runtime directory),
 * one drover's clear could remove the socket another has just bound in its
 * place. So each clear-and-bind there, and each sweep, holds the
 * directory's lock (sockfile_lock_dir). No logging; the caller says what was
 * refused.
 */
#ifndef DROVER_SOCKFILE_H
#define DROVER_SOCKFILE_H

/*
 * Makes path free for bind() of a socket of type (SOCK_STREAM or
 * SOCK_DGRAM). Returns 0 when nothing is there or a stale socket was
 * removed; -EADDRINUSE when a socket there is served (a connection was
 * accepted, the backlog is full, or it is of another type); -EEXIST when
 * path is not a socket (a file, a directory, a symbolic link); another
 * -errno when the probe could not tell (-EACCES: not ours to connect to).
 */
int sockfile_clear(const char *path, int type);

/*
 * Locks dir for a clear-and-bind or a sweep: an flock'ed dir/.lock, held
 * until the returned fd is closed. dir must be drover's own (rundir.h):
 * only drovers of its user can take the lock, and one holds it only for a
 * moment, so this waits for it. Returns the fd or -errno.
 */
int sockfile_lock_dir(const char *dir);

/*
 * Removes the stale sockets of type in dir whose names start with prefix
 * and end with suffix, but keep (a full path, or NULL); live ones stay. The
 * caller holds the directory's lock. Returns how many were removed.
 */
unsigned sockfile_sweep(const char *dir, const char *prefix, const char *suffix, const char *keep,
                        int type);

#endif
