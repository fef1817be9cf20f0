/*
 * notify: the systemd notification protocol (sd_notify(3)), both ways.
 *
 * Down: drover owns one datagram socket (SO_PASSCRED), named to children by
 * NOTIFY_SOCKET. notify_recv() returns one datagram with the sender's pid
 * from SCM_CREDENTIALS (never trusting the payload), closes any file
 * descriptors a sender tried to pass, and reports truncated datagrams;
 * core/notify_msg parses it.
 *
 * Up: notify_send() speaks the same protocol to drover's own supervisor.
 * No logging here.
 */
#ifndef DROVER_NOTIFY_H
#define DROVER_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/notify_msg.h"

#define NOTIFY_MAX_DATAGRAM 4096
/*
 * Creates the socket and binds it to name: "@..." is an abstract socket,
 * anything else a path, mode 0600 (a stale socket file there is replaced).
 * Returns the non-blocking, close-on-exec fd, or -errno: -EADDRINUSE when
 * a live socket is bound there, -EEXIST when the path is not a socket,
 * -ENAMETOOLONG beyond 107 bytes.
 */
int notify_open(const char *name);

/*
 * Receives one datagram into buf. Returns its length, -EAGAIN when none is
 * waiting, -EMSGSIZE when it was longer than size (it is consumed), -EPROTO
 * when it came without credentials, or -errno.
 */
ssize_t notify_recv(int fd, char *buf, size_t size, pid_t *ret_pid);

/*
 * Sends text to the socket named by $NOTIFY_SOCKET, if any. Returns 0, 1
 * when NOTIFY_SOCKET is unset (nothing to do), or -errno.
 */
int notify_send(const char *text);

#endif
