# drover: one non-recursive GNU makefile. `make help` lists the targets.
#
#   make                      daemon, example servers, test fixtures, worker library
#   make check                unit tests, fuzz-corpus replay, integration tests
#   make check-unit | check-fuzz-replay | check-integration | check-layers
#   make SANITIZE=address,undefined check
#                             the same under ASan+UBSan (objects in build/san/)
#   make fuzz                 libFuzzer runs (clang; tests/fuzz/fuzz.mk)
#   make bench | bench-quick  the benchmarks' tables (docs/BENCHMARKS.md)
#   make lint | format        cppcheck + clang-format check | apply
#   make install              build/drover into $(PREFIX)/bin
#   make clean

CC       ?= cc
OPT      ?= -O2 -g
SANITIZE ?=
PYTHON   ?= /usr/bin/python3
PREFIX   ?= /usr/local

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wsign-compare -Wswitch-enum -Wformat=2
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong
DEPS_CFLAGS := $(shell pkg-config --cflags jansson libmicrohttpd 2>/dev/null)
DEPS_LIBS   := $(shell pkg-config --libs jansson libmicrohttpd 2>/dev/null || echo -ljansson -lmicrohttpd) -lm
# hiredis (os/redisloop, the jobs' Redis store): its headers are <hiredis/...> on the default path.
REDIS_LIBS  := $(shell pkg-config --libs hiredis 2>/dev/null || echo -lhiredis)
DEPS_LIBS   += $(REDIS_LIBS)

ifeq ($(SANITIZE),)
BUILD := build
SANFLAGS :=
else
BUILD := build/san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

CFLAGS   ?= $(OPT)
ALL_CFLAGS = -std=gnu17 -D_GNU_SOURCE -Iinclude $(WARN) $(HARDEN) $(SANFLAGS) $(DEPS_CFLAGS) $(CFLAGS) -MMD -MP
LDFLAGS  ?=
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

# One archive per layer (docs/architecture.md). A layer may use only the layers below it:
#   core   pure: no system calls but clock reads, no logging, no globals
#   os     system interfaces: core
#   daemon the supervisor: os, core
#   api    its HTTP and control-socket surfaces: daemon, os, core
#   cli    the `drover COMMAND` client: os, core
# A unit test in tests/unit/LAYER/ links that layer's archive and the ones below it only, so
# a module that calls up does not link into its test; `make check-layers` checks the includes
# and the archives' symbols (tools/check-layers.sh).
LAYERS := core os daemon api cli
BELOW_core :=
BELOW_os := core
BELOW_daemon := os core
BELOW_api := daemon os core
BELOW_cli := os core
$(foreach l,$(LAYERS),$(eval OBJ_$(l) := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(wildcard src/$(l)/*.c))))
lib = $(1:%=$(BUILD)/lib%.a)
# What a layer links: its archive, then those below it (static archives resolve left to right).
layer_libs = $(call lib,$(1) $(BELOW_$(1)))
CORE_LIBS := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson) -lm

.SECONDEXPANSION:
$(BUILD)/lib%.a: $$(OBJ_$$*)
	@rm -f $@
	$(AR) rcs $@ $^

include tests/fuzz/fuzz.mk

UNIT_SRC := $(wildcard $(LAYERS:%=tests/unit/%/test_*.c))
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

HELPERS := exit_with sleeper status_dump crasher pinger
HELPER_BIN := $(HELPERS:%=build/helpers/%) build/helpers/wallclock_shift.so
EXAMPLES := authserver timeserver
EXAMPLE_BIN := $(EXAMPLES:%=bin/%) bin/queue_worker bin/job_worker
WORKER_LIB := build/libdrover-worker.a

.DELETE_ON_ERROR:
.PHONY: all check check-unit check-integration check-layers clean install help lint format bench bench-quick

all: $(BUILD)/drover $(HELPER_BIN) $(EXAMPLE_BIN) $(WORKER_LIB) out

help:
	@sed -n '3,/^$$/{s/^# \{0,1\}//;p}' Makefile

# main.c may use every layer; each archive before the ones it calls (nothing calls up).
$(BUILD)/drover: $(BUILD)/obj/main.o $(call lib,api daemon cli os core)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(DEPS_LIBS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -iquote src -c -o $@ $<

# tests/unit/LAYER/test_X.c links LAYER and what is below it, nothing else.
unit_layer = $(word 1,$(subst /, ,$(patsubst $(BUILD)/tests/%,%,$(1))))
$(BUILD)/tests/%: tests/unit/%.c $$(call layer_libs,$$(call unit_layer,$$@))
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -iquote src -o $@ $< $(call layer_libs,$(call unit_layer,$@)) \
	    $(ALL_LDFLAGS) $(CORE_LIBS) $(REDIS_LIBS) -lcmocka

check-layers: $(call lib,$(LAYERS))
	@tools/check-layers.sh $(BUILD)

# Fixtures and example servers are not under test: no sanitizers, one build for both modes.
FIXTURE_CFLAGS = -std=gnu17 -D_GNU_SOURCE $(WARN) -O2 -g

build/helpers/pinger: tests/helpers/pinger.c | build/helpers
	$(CC) $(FIXTURE_CFLAGS) -static -o $@ $<

build/helpers/%: tests/helpers/%.c | build/helpers
	$(CC) $(FIXTURE_CFLAGS) -o $@ $<

# test_faults.py's wall clock for one process (LD_PRELOAD).
build/helpers/wallclock_shift.so: tests/helpers/wallclock_shift.c | build/helpers
	$(CC) $(FIXTURE_CFLAGS) -shared -fPIC -o $@ $<

bin/%: examples/%.c examples/httpd_tiny.h | bin
	$(CC) $(FIXTURE_CFLAGS) -o $@ $<

# The worker library: what workers link against (no sanitizers: it runs inside them).
WORKER_OBJ := build/worker/worker.o build/worker/jobs.o build/worker/jobwire.o
build/worker/%.o: lib/worker/%.c include/drover/worker.h lib/worker/worker_int.h \
                  lib/worker/jobwire.h | build/worker
	$(CC) $(FIXTURE_CFLAGS) -Iinclude -c -o $@ $<

$(WORKER_LIB): $(WORKER_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

bin/queue_worker: examples/queue_worker.c $(WORKER_LIB) | bin
	$(CC) $(FIXTURE_CFLAGS) -Iinclude -o $@ $< $(WORKER_LIB)

bin/job_worker: examples/job_worker.c $(WORKER_LIB) | bin
	$(CC) $(FIXTURE_CFLAGS) -Iinclude -o $@ $< $(WORKER_LIB)

# The worker's framing against the daemon's (src/core/jobframe.c, the authority), under SANITIZE.
WORKER_UNIT := $(BUILD)/tests/worker/test_jobwire
UNIT_BIN += $(WORKER_UNIT)
$(WORKER_UNIT): $(BUILD)/tests/worker/%: tests/unit/worker/%.c lib/worker/jobwire.c \
                lib/worker/jobwire.h src/core/jobframe.c src/core/jobframe.h
	@mkdir -p $(@D)
	$(CC) -std=gnu17 -D_GNU_SOURCE $(WARN) $(SANFLAGS) $(CFLAGS) -iquote src -Ilib/worker \
	    -o $@ $< lib/worker/jobwire.c src/core/jobframe.c $(ALL_LDFLAGS) -lcmocka

build/helpers build/worker bin out:
	mkdir -p $@

check: check-unit check-fuzz-replay check-integration

check-unit: $(UNIT_BIN)
	@tools/run-unit.sh $(UNIT_BIN)

check-integration: all
	DROVER_BIN=$(abspath $(BUILD)/drover) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# Benchmarks print tables (docs/BENCHMARKS.md); never part of check.
bench: all
	bench/run_all.sh

bench-quick: all
	bench/run_all.sh --quick

install: $(BUILD)/drover
	install -D -m 0755 $(BUILD)/drover $(DESTDIR)$(PREFIX)/bin/drover

lint:
	cppcheck --error-exitcode=1 --enable=warning,portability --inline-suppr -q -Isrc src
	clang-format --dry-run -Werror src/*.c src/*/*.c src/*/*.h

format:
	clang-format -i src/*.c src/*/*.c src/*/*.h

clean:
	rm -rf build bin out

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/obj/*/*.d $(BUILD)/tests/*/*.d)
