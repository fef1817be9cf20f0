# drover: one non-recursive GNU makefile. `make help` lists the targets.
#
#   make                      daemon, example servers, test fixtures, worker library
#   make check                unit tests, fuzz-corpus replay, integration tests
#   make check-unit | check-fuzz-replay | check-integration
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

# Modules, one concept per file. Pure ones are unit-tested directly.
CORE := util utf8 rundir sockfile sig tmpl ports backoff svc cfg pidmap log timer loop spawn procfs ckpt recover notify heartbeat health probe checks events api metrics http_conn http ctl cli cli_render ctl_main liveness launch persist supervisor
CORE_OBJ := $(CORE:%=$(BUILD)/obj/%.o)

include tests/fuzz/fuzz.mk

UNIT_TESTS := $(patsubst tests/unit/test_%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_TESTS:%=$(BUILD)/tests/test_%)

HELPERS := exit_with sleeper status_dump crasher pinger
HELPER_BIN := $(HELPERS:%=build/helpers/%)
EXAMPLES := authserver timeserver
EXAMPLE_BIN := $(EXAMPLES:%=bin/%) bin/queue_worker
WORKER_LIB := build/libdrover-worker.a

.DELETE_ON_ERROR:
.PHONY: all check check-unit check-integration clean install help lint format bench bench-quick

all: $(BUILD)/drover $(HELPER_BIN) $(EXAMPLE_BIN) $(WORKER_LIB) out

help:
	@sed -n '3,/^$$/{s/^# \{0,1\}//;p}' Makefile

$(BUILD)/drover: $(BUILD)/obj/main.o $(CORE_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(DEPS_LIBS)

$(BUILD)/obj/%.o: src/%.c | $(BUILD)/obj
	$(CC) $(ALL_CFLAGS) -iquote src -c -o $@ $<

$(BUILD)/tests/test_%: tests/unit/test_%.c $(CORE_OBJ) | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -iquote src -o $@ $< $(CORE_OBJ) $(ALL_LDFLAGS) $(DEPS_LIBS) -lcmocka

# Fixtures and example servers are not under test: no sanitizers, one build for both modes.
FIXTURE_CFLAGS = -std=gnu17 -D_GNU_SOURCE $(WARN) -O2 -g

build/helpers/pinger: tests/helpers/pinger.c | build/helpers
	$(CC) $(FIXTURE_CFLAGS) -static -o $@ $<

build/helpers/%: tests/helpers/%.c | build/helpers
	$(CC) $(FIXTURE_CFLAGS) -o $@ $<

bin/%: examples/%.c examples/httpd_tiny.h | bin
	$(CC) $(FIXTURE_CFLAGS) -o $@ $<

# The worker library: what workers link against (no sanitizers: it runs inside them).
build/worker/worker.o: lib/worker/worker.c include/drover/worker.h | build/worker
	$(CC) $(FIXTURE_CFLAGS) -Iinclude -c -o $@ $<

$(WORKER_LIB): build/worker/worker.o
	$(AR) rcs $@ $^

bin/queue_worker: examples/queue_worker.c $(WORKER_LIB) | bin
	$(CC) $(FIXTURE_CFLAGS) -Iinclude -o $@ $< $(WORKER_LIB)

$(BUILD)/obj $(BUILD)/tests build/helpers build/worker bin out:
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
	clang-format --dry-run -Werror src/*.c src/*.h

format:
	clang-format -i src/*.c src/*.h

clean:
	rm -rf build bin out

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/tests/*.d)
