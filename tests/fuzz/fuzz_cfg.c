/*
 * fuzz_cfg: the configuration decoder, cfg_parse(), on arbitrary bytes. An
 * accepted config also goes through cfg_finish() and cfg_done(); a rejected
 * one must say why. cfg_parse() refuses more than CFG_MAX_BYTES itself, so
 * the work per input is bounded by the decoder's own limit.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config cfg;
    struct cfg_errors errs = { .len = 0 };
    int r = cfg_parse((const char *)data, size, "fuzz.json", &cfg, &errs);

    /* The error buffer stays one NUL-terminated string however many errors there are. */
    assert(errs.len < sizeof(errs.text) && strlen(errs.text) == errs.len);
    if (r < 0) {
        assert(errs.count > 0);
        return 0;
    }
    assert(errs.count == 0);
    assert(cfg.nprograms >= 1 && cfg.nprograms <= CFG_MAX_PROGRAMS);
    for (size_t i = 0; i < cfg.nprograms; i++) {
        const struct program_cfg *p = &cfg.programs[i];
        /* Every program ends up with a unique, valid name and a command. */
        assert(p->name && *p->name && strlen(p->name) <= CFG_NAME_MAX);
        assert(p->argc >= 1 && p->argv && p->argv[0] && *p->argv[0] && !p->argv[p->argc]);
        for (size_t k = 0; k < i; k++)
            assert(strcmp(cfg.programs[k].name, p->name) != 0);
    }
    (void)cfg_finish(&cfg, &errs);
    assert(errs.len < sizeof(errs.text) && strlen(errs.text) == errs.len);
    cfg_done(&cfg);
    return 0;
}
