/*
 * main: drover's entry point: argv, wiring and exit codes, no logic.
 * Exit codes (docs/exit-codes.md): 0 ok, 1 runtime or system failure,
 * 2 usage or invalid configuration, 4 a shutdown that was not clean
 * (SUPERVISOR_EXIT_UNCLEAN); as pid 1, 128 + a signal that ends drover.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "core/cfg.h"
#include "core/probe_spec.h"
#include "core/utf8.h"
#include "core/util.h"
#include "os/afile.h"
#include "os/identity.h"
#include "os/log.h"
#include "os/rundir.h"
#include "os/sig.h"
#include "os/spawn.h"
#include "daemon/reload.h"
#include "daemon/supervisor.h"
#include "api/http.h"
#include "cli/cli_main.h"

#define DROVER_VERSION "0.1.0"
#define EXIT_USAGE 2

struct options {
    const char *config_path; /* NULL: standard input */
    const char *port_range;
    const char *log_path;
    const char *dumpfile;
    const char *checkpoint_interval;
    const char *http;
    const char *http_token;
    const char *http_token_file;
    const char *control; /* a path, or "off" */
    enum log_level level;
    bool check_only;
    bool adopt;
};

static void
usage(FILE *f)
{
    fprintf(
        f,
        "usage: drover [options] < config.json\n"
        "       drover [options] --config FILE\n"
        "       drover [--control PATH] status|start|stop|restart|scale|signal|events|health|"
        "shutdown|reload|apply|help ...\n"
        "                           (the CLI: see 'drover help' and docs/cli.md)\n"
        "\n"
        "  -c, --config FILE        read the JSON configuration from FILE (default: stdin)\n"
        "      --port-range FROM-TO ports handed out for {{port}} (overrides \"port_range\")\n"
        "      --dumpfile PATH      checkpoint file: recover from it at start, keep it current\n"
        "      --checkpoint-interval DURATION\n"
        "                           rewrite the dumpfile at least this often (default 30s)\n"
        "      --adopt              adopt an earlier drover's survivors instead of stopping them\n"
        "      --http ADDR:PORT     serve /health /livez /readyz /status /metrics /events\n"
        "                           (read-only; loopback: 127.0.0.1:PORT)\n"
        "      --http-token TOKEN   allow control calls over --http with this bearer token\n"
        "      --http-token-file FILE  the same, the token read from FILE (keeps it out of ps)\n"
        "      --control PATH|off   the control socket (default: config \"control\", else\n"
        "                           $DROVER_CONTROL, else /run/drover.sock as root, else\n"
        "                           $XDG_RUNTIME_DIR/drover.sock, else\n"
        "                           /tmp/drover-UID/drover.sock)\n"
        "      --log FILE           append log lines to FILE instead of stderr\n"
        "      --check-config       validate the configuration and exit\n"
        "  -v, --verbose            log debug lines too\n"
        "  -q, --quiet              log warnings and errors only\n"
        "  -h, --help               this text\n"
        "  -V, --version            print the version\n"
        "\n"
        "Exit codes: 0 ok (a clean stop), 1 runtime failure, 2 usage or configuration error,\n"
        "4 stopped, but not cleanly (a SIGKILL was needed, or a program was fatal).\n"
        "See README.md and docs/ for the configuration format.\n");
}

static _Noreturn void
die_usage(const char *what, const char *arg)
{
    char shown[4 * 256 + 1]; /* what was typed, escapes and non-UTF-8 bytes as \xHH */

    (void)utf8_escape(arg, strnlen(arg, 256), shown, sizeof(shown), UTF8_ESCAPE_CONTROLS);
    fprintf(stderr, "drover: %s '%s'\nTry 'drover --help'.\n", what, shown);
    exit(EXIT_USAGE);
}

static void
parse_args(int argc, char **argv, struct options *o)
{
    enum {
        OPT_PORT_RANGE = 256,
        OPT_LOG,
        OPT_CHECK,
        OPT_DUMPFILE,
        OPT_INTERVAL,
        OPT_ADOPT,
        OPT_HTTP,
        OPT_HTTP_TOKEN,
        OPT_HTTP_TOKEN_FILE,
        OPT_CONTROL
    };
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "port-range", required_argument, NULL, OPT_PORT_RANGE },
        { "log", required_argument, NULL, OPT_LOG },
        { "dumpfile", required_argument, NULL, OPT_DUMPFILE },
        { "checkpoint-interval", required_argument, NULL, OPT_INTERVAL },
        { "adopt", no_argument, NULL, OPT_ADOPT },
        { "http", required_argument, NULL, OPT_HTTP },
        { "http-token", required_argument, NULL, OPT_HTTP_TOKEN },
        { "http-token-file", required_argument, NULL, OPT_HTTP_TOKEN_FILE },
        { "control", required_argument, NULL, OPT_CONTROL },
        { "check-config", no_argument, NULL, OPT_CHECK },
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    *o = (struct options){ .level = LOG_LVL_INFO };
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:vqhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config_path = optarg;
            break;
        case OPT_PORT_RANGE:
            o->port_range = optarg;
            break;
        case OPT_LOG:
            o->log_path = optarg;
            break;
        case OPT_CHECK:
            o->check_only = true;
            break;
        case OPT_DUMPFILE:
            o->dumpfile = optarg;
            break;
        case OPT_INTERVAL:
            o->checkpoint_interval = optarg;
            break;
        case OPT_ADOPT:
            o->adopt = true;
            break;
        case OPT_HTTP:
            o->http = optarg;
            break;
        case OPT_HTTP_TOKEN:
            o->http_token = optarg;
            break;
        case OPT_HTTP_TOKEN_FILE:
            o->http_token_file = optarg;
            break;
        case OPT_CONTROL:
            o->control = optarg;
            break;
        case 'v':
            o->level = LOG_LVL_DEBUG;
            break;
        case 'q':
            o->level = LOG_LVL_WARN;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("drover %s\n", DROVER_VERSION);
            exit(0);
        case ':':
            die_usage("this option needs a value:", argv[optind - 1]);
        default:
            die_usage("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        die_usage("unexpected argument (the configuration comes from stdin or --config):",
                  argv[optind]);
}

/* Reads all of fd, at most CFG_MAX_BYTES + 1 (so an oversized input is detected). */
static int
read_all(int fd, char **ret_buf, size_t *ret_len)
{
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap);

    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t n;
        if (len == cap) {
            char *bigger;
            if (cap > CFG_MAX_BYTES)
                break;
            bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return -ENOMEM;
            }
            buf = bigger;
            cap *= 2;
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int r = -errno;
            free(buf);
            return r;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}

/* The first line of path, without its line end (cfg_token_problem() judges it). */
static int
read_token(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "re");
    size_t n;

    if (!f)
        return -errno;
    if (!fgets(buf, (int)size, f)) {
        int r = ferror(f) ? -errno : 0; /* a directory, an I/O error: not an empty token */
        (void)fclose(f);
        if (r < 0)
            return r;
        buf[0] = '\0';
        return 0;
    }
    (void)fclose(f);
    n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    return 0;
}

/* Command-line flags override the file's settings. */
static int
apply_overrides(const struct options *o, struct config *cfg, struct cfg_errors *errs)
{
    int64_t ms;

    if (o->port_range && util_parse_port_range(o->port_range, &cfg->port_from, &cfg->port_to) < 0) {
        cfg_error(errs, "--port-range: expected FROM-TO with 1 <= FROM <= TO <= 65535, got \"%s\"",
                  o->port_range);
        return -EINVAL;
    }
    if (o->checkpoint_interval) {
        if (util_parse_duration_ms(o->checkpoint_interval, &ms) < 0 || ms < 100) {
            cfg_error(errs,
                      "--checkpoint-interval: expected a duration of at least 100ms such as "
                      "\"10s\", got \"%s\"",
                      o->checkpoint_interval);
            return -EINVAL;
        }
        cfg->checkpoint_interval_ms = ms;
    }
    if (o->dumpfile) {
        if (!*o->dumpfile) {
            cfg_error(errs, "--dumpfile: expected a path");
            return -EINVAL;
        }
        free(cfg->dumpfile);
        if (!(cfg->dumpfile = strdup(o->dumpfile))) {
            cfg_error(errs, "out of memory");
            return -ENOMEM;
        }
    }
    if (o->adopt)
        cfg->adopt = true;
    if (o->http_token || o->http_token_file) {
        char token[CFG_TOKEN_MAX + 2];
        const char *problem;

        if (o->http_token && o->http_token_file) {
            cfg_error(errs, "--http-token and --http-token-file: give one of them");
            return -EINVAL;
        }
        if (o->http_token_file && read_token(o->http_token_file, token, sizeof(token)) < 0) {
            cfg_error(errs, "--http-token-file %s: cannot read it: %s", o->http_token_file,
                      strerror(errno));
            return -EINVAL;
        }
        if ((problem = cfg_token_problem(o->http_token ? o->http_token : token))) {
            cfg_error(errs, "%s: %s", o->http_token ? "--http-token" : "--http-token-file",
                      problem);
            return -EINVAL;
        }
        free(cfg->http_token);
        if (!(cfg->http_token = strdup(o->http_token ? o->http_token : token)))
            return -ENOMEM;
    }
    if (o->control) {
        free(cfg->control);
        cfg->control = NULL;
        cfg->control_off = strcmp(o->control, "off") == 0;
        if (!*o->control) {
            cfg_error(errs, "--control: expected a socket path, or off");
            return -EINVAL;
        }
        if (!cfg->control_off && !(cfg->control = strdup(o->control)))
            return -ENOMEM;
    }
    if (!cfg->control && !cfg->control_off) {
        char path[PATH_MAX];
        const char *where = rundir_socket_path(NULL, path, sizeof(path));

        if (!where) {
            cfg_error(errs, "the default control socket path (from $DROVER_CONTROL or "
                            "$XDG_RUNTIME_DIR) is too long; give one with --control PATH");
            return -EINVAL;
        }
        if (!(cfg->control = strdup(where)))
            return -ENOMEM;
    }
    if (o->http) {
        struct probe_addr addr;
        if (probe_parse_tcp(o->http, &addr) < 0) {
            cfg_error(errs,
                      "--http: expected ADDR:PORT with a numeric address, such as 127.0.0.1:8080, "
                      "got \"%s\"",
                      o->http);
            return -EINVAL;
        }
        free(cfg->http);
        if (!(cfg->http = strdup(o->http)))
            return -ENOMEM;
    }
    return 0;
}

/* Reads the configuration file (or stdin, path NULL). Returns 0 or -errno; says why in errs. */
static int
read_config(const char *path, char **ret_text, size_t *ret_len, struct cfg_errors *errs)
{
    int fd = 0, r;

    if (path) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            r = -errno;
            cfg_error(errs, "cannot open configuration %s: %s", path, strerror(errno));
            return r;
        }
    } else if (isatty(0)) {
        fprintf(stderr, "drover: reading the configuration from standard input (see --config)\n");
    }
    r = read_all(fd, ret_text, ret_len);
    if (path)
        (void)close(fd);
    if (r < 0)
        cfg_error(errs, "cannot read configuration %s: %s", path ? path : "<stdin>", strerror(-r));
    return r;
}

/* Parsed, the command line's overrides applied, finished: the same at start-up and reload. */
static int
parse_config(const struct options *o, const char *text, size_t len, const char *source,
             struct config *ret, struct cfg_errors *errs)
{
    struct config cfg = { 0 };
    int r = cfg_parse(text, len, source, &cfg, errs);

    if (r < 0)
        return r;
    r = apply_overrides(o, &cfg, errs);
    if (r == 0)
        r = cfg_finish(&cfg, errs);
    if (r == 0)
        r = spawn_check_rlimits(&cfg, errs); /* the limits a child could not set */
    if (r == 0)
        r = identity_resolve(&cfg, errs); /* `user`, `group`: a missing one is a config error */
    if (r < 0) {
        cfg_done(&cfg);
        return -EINVAL;
    }
    *ret = cfg;
    return 0;
}

/* The supervisor's loader for reload and apply (supervisor.h): as at start-up. */
static int
config_loader(void *arg, const char *text, size_t len, const char *source, struct config *ret,
              struct cfg_errors *errs)
{
    const struct options *o = arg;
    char *buf = NULL;
    int r;

    if (!text) {
        if (!o->config_path)
            return -ENOENT; /* stdin cannot be read again */
        if (read_config(o->config_path, &buf, &len, errs) < 0)
            return -EINVAL;
        text = buf;
        source = o->config_path;
    }
    r = parse_config(o, text, len, source, ret, errs);
    free(buf);
    return r < 0 ? -EINVAL : 0;
}

/* What start-up resumed instead of the given configuration, said once the log is open. */
static char resumed_note[PATH_MAX + 128];

/*
 * --adopt with a dumpfile: a configuration applied over the API and saved
 * beside it (DUMPFILE.config.json) is the one in force, not the file or
 * stdin given; it is resumed, under the same dumpfile. Without --adopt it is
 * ignored. A saved copy that is unreadable or not to be trusted is left
 * alone (said in the log) and the given configuration is used.
 */
static void
resume_saved(const struct options *o, struct config *cfg)
{
    struct cfg_errors errs = { .len = 0 };
    char path[PATH_MAX], why[256] = "", *text = NULL, *dumpfile;
    struct config saved;
    size_t len = 0;
    int r;

    if (!cfg->adopt || !cfg->dumpfile ||
        snprintf(path, sizeof(path), "%s%s", cfg->dumpfile, RELOAD_SAVED_SUFFIX) >=
            (int)sizeof(path))
        return;
    r = afile_load(path, CFG_MAX_BYTES, &text, &len, why, sizeof(why));
    if (r == -ENOENT)
        return;
    if (r < 0) {
        (void)snprintf(resumed_note, sizeof(resumed_note),
                       "not resuming the saved configuration %s: %s; using %s", path, why,
                       o->config_path ? o->config_path : "<stdin>");
        return;
    }
    r = parse_config(o, text, len, path, &saved, &errs);
    free(text);
    if (r < 0) {
        for (char *line = strtok(errs.text, "\n"); line; line = strtok(NULL, "\n"))
            fprintf(stderr, "drover: %s\n", line);
        fprintf(stderr,
                "drover: the saved configuration %s is invalid (remove it to start from "
                "%s), nothing started\n",
                path, o->config_path ? o->config_path : "<stdin>");
        cfg_done(cfg);
        exit(EXIT_USAGE);
    }
    /* Found beside this dumpfile: it stays the one, whatever the saved text says. */
    dumpfile = cfg->dumpfile;
    cfg->dumpfile = saved.dumpfile;
    saved.dumpfile = dumpfile;
    saved.adopt = true;
    cfg_done(cfg);
    *cfg = saved;
    (void)snprintf(resumed_note, sizeof(resumed_note),
                   "--adopt: resuming the configuration last applied over the API, saved in %s "
                   "(not %s)",
                   path, o->config_path ? o->config_path : "<stdin>");
}

static void
load_config(const struct options *o, struct config *cfg)
{
    const char *source = o->config_path ? o->config_path : "<stdin>";
    struct cfg_errors errs = { .len = 0 };
    char *text = NULL;
    size_t len = 0;
    int r;

    if (read_config(o->config_path, &text, &len, &errs) < 0) {
        fprintf(stderr, "drover: %s", errs.text);
        exit(EXIT_USAGE);
    }
    r = parse_config(o, text, len, source, cfg, &errs);
    free(text);
    if (r < 0) {
        /* Every line is one error: "source:line:col: path: what was expected". */
        for (char *line = strtok(errs.text, "\n"); line; line = strtok(NULL, "\n"))
            fprintf(stderr, "drover: %s\n", line);
        if (errs.count > 1)
            fprintf(stderr, "drover: %u errors, nothing started\n", errs.count);
        else
            fprintf(stderr, "drover: nothing started\n");
        exit(EXIT_USAGE);
    }
    resume_saved(o, cfg);
}

/* Descriptors 0-2 must exist, or our own files could land on them and confuse children. */
static void
ensure_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int nul = open("/dev/null", O_RDWR);
            if (nul != fd)
                exit(1);
        }
    }
}

/*
 * Each instance holds a pidfd, so 1,000 instances would not fit in the usual
 * soft limit of 1024 descriptors. Raise ours to the hard limit; children get
 * the original back (programs using select() break with larger limits).
 */
static void
raise_nofile_limit(void)
{
    struct rlimit lim;

    if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
        return;
    spawn_set_child_nofile(&lim);
    if (lim.rlim_cur < lim.rlim_max) {
        struct rlimit raised = { .rlim_cur = lim.rlim_max, .rlim_max = lim.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &raised) < 0)
            log_warn("cannot raise the open-file limit to %llu", (unsigned long long)lim.rlim_max);
    }
}

/*
 * Whatever descriptors drover was started with (beyond stdio) are not the
 * workers' business: marked close-on-exec, they stay drover's only.
 */
static void
close_inherited_fds(void)
{
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return;
    /* Kernels before 5.11: walk the descriptors we might have. */
    for (int fd = 3; fd < 1024; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC))
            (void)fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
}

int
main(int argc, char **argv)
{
    struct options opts;
    struct config cfg = { 0 };
    struct supervisor *sup;
    int r, code;

    ensure_std_fds();
    if (cli_is_command(argc, argv))
        return cli_main(argc, argv); /* the CLI: a client of the control socket */
    close_inherited_fds();
    parse_args(argc, argv, &opts);
    load_config(&opts, &cfg); /* signals keep their defaults here: Ctrl-C stops a slow parse */
    sig_block_handled();
    if (opts.check_only) {
        printf("configuration OK: %zu program%s, %zu instance%s\n", cfg.nprograms,
               cfg.nprograms == 1 ? "" : "s", cfg_total_instances(&cfg),
               cfg_total_instances(&cfg) == 1 ? "" : "s");
        cfg_done(&cfg);
        return 0;
    }
    if (opts.log_path && (r = log_open(opts.log_path, opts.level)) < 0) {
        fprintf(stderr, "drover: cannot open log file %s: %s\n", opts.log_path,
                r == -ENXIO ? "a FIFO with no reader (start its reader first)" : strerror(-r));
        cfg_done(&cfg);
        return EXIT_USAGE;
    }
    if (!opts.log_path)
        log_init(2, opts.level);
    raise_nofile_limit();
    /* Orphaned grandchildren come to us, so they are reaped and never left behind. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        log_warn("cannot become a child subreaper; orphaned grandchildren go to init");
    sup = supervisor_new(&cfg, HTTP_TIMERS, &r);
    if (!sup) {
        errno = -r;
        cfg_done(&cfg);
        fatal("cannot set up the supervisor");
    }
    /* The surfaces above the pool: HTTP and the control socket, opened in start-up's order. */
    if ((r = http_attach(sup)) < 0) {
        supervisor_free(sup);
        errno = -r;
        fatal("cannot set up the HTTP API");
    }
    supervisor_set_surfaces(sup, &http_surfaces);
    supervisor_set_config_loader(sup, config_loader, &opts);
    if (resumed_note[0])
        log_info("%s", resumed_note);
    code = supervisor_run(sup);
    supervisor_free(sup);
    return code;
}
