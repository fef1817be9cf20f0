/*
 * test_sig: the handled-signal set (src/os/sig.c). The signals drover
 * reads itself; sig_ends_process() for those whose default action ends a
 * process and no others; and as pid 1 of a new pid namespace (root only,
 * skipped otherwise) the handled set grows by exactly those.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os/sig.h"

static const int handled[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
static const int ending[] = { SIGQUIT, SIGUSR2, SIGALRM, SIGVTALRM,
                              SIGPROF, SIGIO,   SIGPWR,  SIGSTKFLT };
/* Handled otherwise, ignored by default, or forced by the kernel on a fault. */
static const int not_ending[] = { SIGCHLD, SIGTERM, SIGINT,  SIGHUP,  SIGUSR1,  SIGKILL,
                                  SIGSTOP, SIGPIPE, SIGSEGV, SIGABRT, SIGWINCH, SIGCONT };

#define N(a) (sizeof(a) / sizeof(*(a)))

static void
ends_process_is_exactly_the_list(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(ending); i++)
        assert_true(sig_ends_process(ending[i]));
    for (size_t i = 0; i < N(not_ending); i++)
        assert_false(sig_ends_process(not_ending[i]));
    assert_false(sig_ends_process(0));
    assert_false(sig_ends_process(SIGRTMIN));
}

/* 0 if the handled set is right for a process whose pid is (or is not) 1. */
static int
handled_set_problems(bool as_init)
{
    sigset_t set;
    int problems = 0;

    sig_handled(&set);
    for (size_t i = 0; i < N(handled); i++)
        problems += sigismember(&set, handled[i]) != 1;
    for (size_t i = 0; i < N(ending); i++)
        problems += sigismember(&set, ending[i]) != as_init;
    problems += sigismember(&set, SIGPIPE) != 0 || sigismember(&set, SIGWINCH) != 0;
    return problems;
}

static void
handled_set_outside_a_container(void **state)
{
    (void)state;
    assert_int_not_equal(getpid(), 1);
    assert_int_equal(handled_set_problems(false), 0);
}

/* In a child, so this process's own pid namespace for children stays (LeakSanitizer clones). */
static void
handled_set_as_pid_1(void **state)
{
    int status;
    pid_t pid;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        pid_t init;

        if (unshare(CLONE_NEWPID) < 0)
            _exit(77); /* needs root (CAP_SYS_ADMIN) */
        init = fork(); /* the first child in the new namespace is its pid 1 */
        if (init < 0)
            _exit(101);
        if (init == 0)
            _exit(getpid() != 1 ? 100 : handled_set_problems(true));
        if (waitpid(init, &status, 0) != init || !WIFEXITED(status))
            _exit(102);
        _exit(WEXITSTATUS(status));
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip();
    assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ends_process_is_exactly_the_list),
        cmocka_unit_test(handled_set_outside_a_container),
        cmocka_unit_test(handled_set_as_pid_1),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
