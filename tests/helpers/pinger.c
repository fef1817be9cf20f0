/*
 * pinger - benchmark fixture: report "I have started" as early as possible.
 *
 *   pinger [--exit]
 *
 * The first thing main() does is read CLOCK_MONOTONIC.  If DROVER_BENCH_SOCK
 * names an AF_UNIX datagram socket, one datagram "<pid> <ns>\n" is sent to
 * it (errors ignored).  Then with --exit it exits 0, otherwise it pause()s
 * until killed.  Meant to be linked with -static for a fast exec; it uses no
 * stdio beyond snprintf.  Unknown argument: message on stderr, exit 2.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void
report(const char *path, unsigned long long ns)
{
    struct sockaddr_un sa;
    char msg[64];
    size_t plen = strlen(path);
    int n, fd;

    if (plen == 0 || plen >= sizeof(sa.sun_path))
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, plen + 1);
    n = snprintf(msg, sizeof(msg), "%ld %llu\n", (long)getpid(), ns);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, msg, (size_t)n, 0, (struct sockaddr *)&sa,
               sizeof(sa)) < 0) {
        /* ignored: the benchmark just misses this sample */
    }
    close(fd);
}

int
main(int argc, char **argv)
{
    struct timespec ts;
    unsigned long long ns;
    const char *sock;
    int do_exit = 0;
    int i;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ns = (unsigned long long)ts.tv_sec * 1000000000ULL
         + (unsigned long long)ts.tv_nsec;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--exit") == 0) {
            do_exit = 1;
        } else {
            static const char msg[] = "pinger: unknown argument\n"
                                      "usage: pinger [--exit]\n";

            if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
                /* nothing more we can do */
            }
            return 2;
        }
    }

    sock = getenv("DROVER_BENCH_SOCK");
    if (sock != NULL)
        report(sock, ns);

    if (do_exit)
        return 0;
    for (;;)
        pause();
}
