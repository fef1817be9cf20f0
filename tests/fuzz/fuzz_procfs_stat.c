/*
 * fuzz_procfs_stat: proc_parse_stat() on a NUL-terminated copy of the input,
 * cut at 1023 bytes as proc_read_stat() reads at most that much. The line
 * comes from /proc but its comm field is whatever the process named itself,
 * spaces and parentheses included. The same text goes to the memory parsers
 * (smaps_rollup's Pss: line, statm's resident pages), which read kernel text
 * but must not trust a cut one.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "os/procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proc_stat st = { .state = '?', .ppid = -7 };
    uint64_t kb = 7, pages = 7;
    char *line;

    if (size > 1023)
        size = 1023;
    line = malloc(size + 1);
    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = '\0';

    if (proc_parse_stat(line, &st) < 0) {
        assert(st.state == '?' && st.ppid == -7); /* untouched on failure */
    } else {
        assert(strrchr(line, ')'));
    }
    if (proc_parse_pss_kb(line, &kb) < 0)
        assert(kb == 7);
    else
        assert(strstr(line, "Pss:"));
    if (proc_parse_statm_rss(line, &pages) < 0)
        assert(pages == 7);
    free(line);
    return 0;
}
