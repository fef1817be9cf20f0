# tests/fuzz/fuzz.mk: the decoder fuzzers (STYLE.md section 11), included by the main Makefile
# after the layers' archives are defined. One harness per decoder, tests/fuzz/fuzz_TARGET.c, seeds in
# tests/fuzz/corpus/TARGET/ (past crashers go there too, once fixed).
#
#   make check-fuzz-replay [FUZZ_REPLAY_TIMEOUT=120]
#                             every corpus through replay.c, a plain main, built with $(CC) and
#                             the core objects of this build (so under the sanitizers with
#                             SANITIZE=address,undefined); a replay still running after
#                             FUZZ_REPLAY_TIMEOUT seconds fails, named
#   make fuzz [SECONDS=60 | FUZZ_SECONDS=60] [FUZZ_RUN="cfg ckpt"]
#                             libFuzzer+ASan+UBSan builds with clang in build/fuzz-clang/, each
#                             run SECONDS on its own copy of the corpus; crashes land in
#                             build/fuzz-clang/crash-TARGET-*, each run's output in
#                             build/fuzz-clang/log-TARGET, and one line per target says its
#                             executions, their rate and the corpus it ended with

# Whatever the including makefile's default goal is (or will be), it stays so.
fuzz_default_goal := $(.DEFAULT_GOAL)

FUZZ_TARGETS := cfg ckpt util tmpl procfs_stat cli_response utf8 api_request probe_spec notify_msg \
                jobframe lineasm base64 job_submit jobjournal redisurl redisoutbox herojob ctlreq
FUZZ_REPLAY_BIN := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay_%)

.PHONY: check-fuzz-replay fuzz

$(BUILD)/fuzz/%.o: tests/fuzz/%.c | $(BUILD)/fuzz
	$(CC) $(ALL_CFLAGS) -iquote src -c -o $@ $<

# A decoder is in core unless named here; its replay links its layer and those below only.
FUZZ_LAYER_procfs_stat := os
FUZZ_LAYER_cli_response := cli
fuzz_layer = $(or $(FUZZ_LAYER_$(1)),core)

$(FUZZ_REPLAY_BIN): $(BUILD)/fuzz/replay_%: $(BUILD)/fuzz/replay.o $(BUILD)/fuzz/fuzz_%.o \
                    $$(call layer_libs,$$(call fuzz_layer,$$*))
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CORE_LIBS)

$(BUILD)/fuzz:
	mkdir -p $@

# Each replay's per-input lines are shown only when it fails (the last one names the culprit).
# The timeout only stops a replay that hangs: each corpus takes about 15 ms, under the
# sanitizers too (FUZZ_REPLAY_TIMEOUT, 120 s, is far beyond 10x that).
FUZZ_REPLAY_TIMEOUT ?= 120
check-fuzz-replay: $(FUZZ_REPLAY_BIN)
	@passed=0 failed=0; \
	for t in $(FUZZ_TARGETS); do \
	    out=$$(UBSAN_OPTIONS=$${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
	           timeout --kill-after=10 $(FUZZ_REPLAY_TIMEOUT) \
	           $(BUILD)/fuzz/replay_$$t tests/fuzz/corpus/$$t 2>&1); rc=$$?; \
	    if [ $$rc -eq 0 ]; then \
	        printf '%s: %s\n' "$$t" "$$(printf '%s\n' "$$out" | tail -1)"; passed=$$((passed + 1)); \
	    elif [ $$rc -eq 124 ] || [ $$rc -eq 137 ]; then \
	        printf '%s\n' "$$out"; \
	        echo "$$t: replay did not finish within $(FUZZ_REPLAY_TIMEOUT) s: stopped by timeout (status $$rc); the last 'replay:' line above is the input it was on"; \
	        failed=$$((failed + 1)); \
	    else \
	        printf '%s\n' "$$out"; echo "$$t: replay exited with status $$rc"; \
	        failed=$$((failed + 1)); \
	    fi; \
	done; \
	echo "fuzz replay: $$passed passed, $$failed failed"; \
	[ $$failed -eq 0 ]

# --- libFuzzer ---------------------------------------------------------------------------------

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= $(or $(SECONDS),60)
FUZZ_RUN     ?= $(FUZZ_TARGETS)
FUZZ_DIR     := build/fuzz-clang
FUZZ_SAN     := address,undefined
FUZZ_JANSSON_CFLAGS := $(shell pkg-config --cflags jansson libmicrohttpd 2>/dev/null)
# No -Werror: a newer clang's new warnings must not stop a fuzzing run. Include directories
# follow the main build's (-I flags of ALL_CFLAGS; include/ holds the public headers).
FUZZ_CFLAGS   = -std=gnu17 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
                -fno-sanitize-recover=all -Wall -Wextra -iquote src -iquote include \
                $(filter -I%,$(ALL_CFLAGS)) $(FUZZ_JANSSON_CFLAGS) -MMD -MP
FUZZ_LIBS    := $(shell pkg-config --libs jansson libmicrohttpd 2>/dev/null || echo -ljansson -lmicrohttpd) -lm $(REDIS_LIBS)
# The decoders' layers (core, os, cli), every module of them.
FUZZ_CORE_OBJ := $(patsubst $(BUILD)/obj/%.o,$(FUZZ_DIR)/obj/%.o,$(OBJ_core) $(OBJ_os) $(OBJ_cli))
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
# The checked-in corpus stays as it is: each run works on its copy, seeded afresh from it.
FUZZ_OPTS    := -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

$(FUZZ_DIR)/obj/%.o: src/%.c | $(FUZZ_DIR)/obj
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c -o $@ $<

$(FUZZ_DIR)/obj/%.o: tests/fuzz/%.c | $(FUZZ_DIR)/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c -o $@ $<

$(FUZZ_BIN): $(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/fuzz_%.o $(FUZZ_CORE_OBJ)
	$(FUZZ_CC) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)

$(FUZZ_DIR)/obj:
	mkdir -p $@

fuzz: $(FUZZ_RUN:%=$(FUZZ_DIR)/fuzz_%)
	@failed=""; \
	for t in $(FUZZ_RUN); do \
	    mkdir -p $(FUZZ_DIR)/corpus-$$t && cp tests/fuzz/corpus/$$t/* $(FUZZ_DIR)/corpus-$$t/; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	    UBSAN_OPTIONS=$${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
	    $(FUZZ_DIR)/fuzz_$$t $(FUZZ_OPTS) -max_total_time=$(FUZZ_SECONDS) \
	        -artifact_prefix=$(FUZZ_DIR)/crash-$$t- $(FUZZ_DIR)/corpus-$$t \
	        > $(FUZZ_DIR)/log-$$t 2>&1 || { failed="$$failed $$t"; tail -40 $(FUZZ_DIR)/log-$$t; }; \
	    done_line=$$(grep -E '^Done [0-9]+ runs' $(FUZZ_DIR)/log-$$t | tail -1); \
	    cov=$$(grep -E '^#[0-9]+.*(DONE|cov:)' $(FUZZ_DIR)/log-$$t | tail -1 | \
	           sed -E 's/.*cov: ([0-9]+).*corp: ([0-9]+)\/([0-9a-zA-Z]+).*exec\/s: ([0-9]+).*/cov \1, corpus \2 inputs (\3), \4 exec\/s/'); \
	    echo "fuzz: $$t: $${done_line:-no Done line}; $$cov"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed (inputs in $(FUZZ_DIR)/crash-*)"; exit 1; fi; \
	echo "fuzz: $(FUZZ_RUN): no crash in $(FUZZ_SECONDS)s each"

-include $(wildcard $(BUILD)/fuzz/*.d $(FUZZ_DIR)/obj/*.d $(FUZZ_DIR)/obj/*/*.d)

.DEFAULT_GOAL := $(fuzz_default_goal)
