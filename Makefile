# pgphase — build, test, demo, bench, install.
#
#   make            build the library (libpgphase.a / .so) and the pgphase command
#   make check      install deps, build, run every test against a throwaway PostgreSQL 15
#   make demo       install deps, build, run pgphase on tests/demo against a throwaway server
#   make bench      benchmarks (tests/bench), each figure a ratio against a same-run baseline
#   make install PREFIX=/usr/local
#
# Sources are picked up by wildcard (src/<layer>/, lint/, strategies/, tests/check_*.c), so
# adding a file never needs a Makefile edit.  Test suites are registered from tests/check_*.c
# names.  src/cli/ is the command (main.c + cmd_*.c); everything else is the library.

VERSION    := 0.1.0
PREFIX     ?= /usr/local
CC         ?= cc
PKGS       := libpq libconfig libcurl jansson libcrypto libprotobuf-c
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wno-missing-field-initializers
CFLAGS   ?= -O2 -g
# flags the build needs whatever CFLAGS the caller passes (make CFLAGS=... keeps these)
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC $(WARN) -Iinclude -Isrc -I. $(PKG_CFLAGS) \
            -DPGPHASE_VERSION='"$(VERSION)"'
# libpg_query linked statically, its two calls that pack a parse tree wrapped: pgphase
# takes the tree as libpg_query built it instead of encoding and decoding it (src/sql/parse.c,
# parse_tree).  Debian's libpg-query-dev ships the static library.
PGQ_WRAP := pg_query__parse_result__get_packed_size pg_query__parse_result__pack
PGQ_LIBS := $(PGQ_WRAP:%=-Wl,--wrap=%) -Wl,-Bstatic -lpg_query -Wl,-Bdynamic
LDLIBS   += $(PGQ_LIBS) $(PKG_LIBS) -lpthread -lm

BUILD    := build
LIB_SRC  := $(sort $(wildcard src/*/*.c) $(wildcard strategies/*.c) $(wildcard lint/*.c))
LIB_SRC  := $(filter-out src/cli/%,$(LIB_SRC))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/check_*.c))
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o) $(BUILD)/tests/harness.o $(BUILD)/tests/runner.o
HEADERS  := $(wildcard include/pgphase/*.h) $(wildcard src/*/*.h) $(wildcard lint/*.h) \
            $(wildcard strategies/*.h)

BIN      := $(BUILD)/pgphase
LIB_A    := $(BUILD)/libpgphase.a
LIB_SO   := $(BUILD)/libpgphase.so
TESTBIN  := $(BUILD)/check_pgphase

.PHONY: all deps check check-pure demo bench install clean asan-check fuzz fuzz-build valgrind FORCE
all: $(BIN) $(LIB_SO)

deps:
	./ci/deps.sh

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(BASE_CFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	@echo "  AR $@"
	@ar rcs $@ $^

$(LIB_SO): $(LIB_OBJ)
	@echo "  LD $@"
	@$(CC) -shared -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BIN): $(CLI_OBJ) $(LIB_A)
	@echo "  LD $@"
	@$(CC) -o $@ $(CLI_OBJ) $(LIB_A) $(LDFLAGS) $(LDLIBS)

# Suite registry generated from the test file names: tests/check_foo.c defines foo_suite().
# Regenerated on every build and replaced only when the list changed, so adding or removing
# a suite file is always seen and an unchanged list rebuilds nothing.
$(BUILD)/tests/suites.h: FORCE
	@mkdir -p $(dir $@)
	@for f in $(TEST_SRC); do n=$$(basename $$f .c); echo "SUITE($${n#check_})"; done > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

FORCE:

$(BUILD)/tests/runner.o: tests/runner.c $(BUILD)/tests/suites.h $(HEADERS) tests/harness.h
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(BASE_CFLAGS) $(CFLAGS) $(CHECK_CFLAGS) -I$(BUILD)/tests -Itests -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c $(HEADERS) tests/harness.h
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(BASE_CFLAGS) $(CFLAGS) $(CHECK_CFLAGS) -Itests -c -o $@ $<

$(TESTBIN): $(TEST_OBJ) $(LIB_A)
	@echo "  LD $@"
	@$(CC) -o $@ $(TEST_OBJ) $(LIB_A) $(LDFLAGS) $(LDLIBS) $(CHECK_LIBS)

# Every test against a throwaway PostgreSQL 15 that tests/pg.sh starts and always stops.
check: deps
	$(MAKE) all $(TESTBIN)
	tests/layers.sh
	tests/run.sh $(TESTBIN)
	sh tests/install_test.sh

# Pure suites only: no server needed.
check-pure: all $(TESTBIN)
	CK_EXCLUDE_TAGS=db $(TESTBIN)

demo: deps
	$(MAKE) all
	tests/demo/run.sh $(BIN)

bench: deps
	$(MAKE) all
	tests/bench/run.sh $(BIN)

asan-check:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
	        LDFLAGS="-fsanitize=address,undefined" all build-asan/check_pgphase
	SANITIZE=1 tests/run.sh build-asan/check_pgphase

# The CLI suites with every pgphase run under valgrind memcheck (no definite leaks, no
# invalid reads or writes); suppressions for third-party internals in tests/valgrind.supp.
valgrind: all $(TESTBIN)
	PGPHASE_VALGRIND=1 CK_RUN_SUITE=$${CK_RUN_SUITE:-migrate} CK_TIMEOUT_MULTIPLIER=4 tests/run.sh $(TESTBIN)
	PGPHASE_VALGRIND=1 CK_RUN_SUITE=cli CK_TIMEOUT_MULTIPLIER=4 tests/run.sh $(TESTBIN)

# libFuzzer harnesses (clang): tests/fuzz/fuzz_<name>.c, seeds in tests/fuzz/corpus/<name>/.
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/libpgphase.a
	clang $(BASE_CFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $< \
	      build-fuzz/libpgphase.a $(LDLIBS)

fuzz-build:
	$(MAKE) BUILD=build-fuzz CC=clang CFLAGS="$(FUZZ_FLAGS)" build-fuzz/libpgphase.a
	$(MAKE) BUILD=build-fuzz CC=clang CFLAGS="$(FUZZ_FLAGS)" $(FUZZ_BIN)

fuzz: deps
	$(MAKE) fuzz-build
	FUZZ_SECONDS=$${FUZZ_SECONDS:-60} tests/fuzz/run.sh build-fuzz

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/pgphase \
	           $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/pgphase
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/libpgphase.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/libpgphase.so
	install -m 644 include/pgphase/*.h $(DESTDIR)$(PREFIX)/include/pgphase/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' src/pgphase.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/pgphase.pc

clean:
	rm -rf $(BUILD) build-asan build-fuzz
