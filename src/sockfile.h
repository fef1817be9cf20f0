/*
 * sockfile: a unix socket's file on disk, before drover binds one there.
 *
 * A socket file outlives the program that bound it, so a path can hold a
 * stale socket (its owner died) or a live one (someone serves it). Only a
 * connect() can tell them apart: ECONNREFUSED means nobody is bound to it.
 * sockfile_clear() removes a stale socket and nothing else, so drover never
 * takes over another program's live socket, nor deletes a file that is not
 * a socket. Callers that need one drover per path also hold a lock (ctl.c).
 * No logging; the caller says what was refused.
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

#endif
