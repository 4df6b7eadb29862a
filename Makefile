# lua-paperspace: build and test in the tree, without LuaRocks.
#   make             build build/paperspace/core.so
#   make quickstart  install what is missing, build, run the examples against the emulator
#   make test        install what is missing, build, run every test
#   make lint        luacheck
#   make man         doc/paperspace.1 and completions/paperspace.bash from the command's help
#   make test-all-luas  every test on Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT
#   make docs        the LDoc reference into build/docs/

LUA         ?= lua5.4
LUA_PC      ?= lua5.4
PKG_CONFIG  ?= pkg-config
CC          ?= cc
BUILD       ?= build

BUSTED      ?= $(shell command -v busted 2>/dev/null || echo /usr/bin/busted)
# Each spec file runs in its own busted process, stopped after SPEC_TIMEOUT
# seconds (a hang is a named failure); sanitize and valgrind allow more.
SPEC_TIMEOUT ?= 300
RUN_SPECS    = $(LUA) spec/support/run.lua
# A spec file's "-- spec tags:" line (spec/support/run.lua) says where running
# it again tests nothing more; `make test` runs every file.
#   external  it tests programs with their own build of the core (nvim, nginx,
#             LuaRocks trees and the commands installed there, the core built
#             for Lua 5.1 and LuaJIT, the scripts): skipped by sanitize and
#             valgrind, and by test-all-luas on every Lua but 5.4
#   children  no C code of the library runs in its busted process, only in
#             processes it starts, which valgrind does not trace: skipped by valgrind
# e.g. `make valgrind VALGRIND_SKIP_TAGS=` runs every file.
SANITIZE_SKIP_TAGS ?= external
VALGRIND_SKIP_TAGS ?= external children
ALL_LUAS_SKIP_TAGS ?= external

# Recursive (=), not simple (:=): `make test` on a fresh machine installs
# the packages these ask about after the Makefile has been read.
CURL_CFLAGS = $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
CURL_LIBS   = $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null)
LUA_CFLAGS  = $(shell $(PKG_CONFIG) --cflags $(LUA_PC) 2>/dev/null)

WARN    = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c99 -D_POSIX_C_SOURCE=200809L -fPIC $(WARN) $(LUA_CFLAGS) $(CURL_CFLAGS) $(CFLAGS)
LDFLAGS_SO = -shared

SRC  = $(wildcard src/*.c)
OBJ  = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRC))
CORE = $(BUILD)/paperspace/core.so

# Run the library, and its emulator, from the tree.
IN_TREE = LUA_PATH="lua/?.lua;lua/?/init.lua;emulator/lua/?.lua;;" LUA_CPATH="$(BUILD)/?.so;;"
EXAMPLES = examples/quickstart.lua examples/ci_secrets.lua examples/audit_admins.lua examples/neovim_luv.lua

.PHONY: all check-deps deps test-deps test quickstart lint compat clean

all: check-deps $(CORE)

check-deps:
	@$(PKG_CONFIG) --exists libcurl || { echo "error: libcurl development files not found (Debian/Ubuntu: apt-get install libcurl4-openssl-dev)"; exit 1; }
	@$(PKG_CONFIG) --exists $(LUA_PC) || { echo "error: Lua development files not found for $(LUA_PC) (Debian/Ubuntu: apt-get install liblua5.4-dev)"; exit 1; }

$(BUILD)/obj/%.o: src/%.c src/paperspace.h src/compat.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(CORE): $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_SO) -o $@ $(OBJ) $(CURL_LIBS) $(LDFLAGS)

# The core built for LuaJIT, which nginx's lua-nginx-module (and Neovim) load.
LUAJIT_CORE = build/luajit/paperspace/core.so
ifneq ($(BUILD),build/luajit)
$(LUAJIT_CORE): $(SRC) src/paperspace.h src/compat.h
	@$(MAKE) --no-print-directory BUILD=build/luajit LUA_PC=luajit $@
endif

deps:
	@scripts/install-deps

test-deps:
	@scripts/install-deps --test
	@scripts/install-prism

quickstart: deps
	@$(MAKE) --no-print-directory all
	$(IN_TREE) $(LUA) examples/with_emulator.lua $(EXAMPLES)

test: test-deps
	@$(MAKE) --no-print-directory all $(LUAJIT_CORE)
	$(RUN_SPECS) --timeout $(SPEC_TIMEOUT) -- $(LUA) $(BUSTED)

lint:
	luacheck .

# The man page and the bash completion of `paperspace`, from its parser.
.PHONY: man
man:
	$(LUA) scripts/cli-docs doc/paperspace.1 completions/paperspace.bash

clean:
	rm -rf $(BUILD)

# The core must build against every Lua C API it supports (warnings are errors).
COMPAT_PCS = lua5.1 luajit lua5.2 lua5.3 lua5.4
compat:
	@for pc in $(COMPAT_PCS); do \
	  if $(PKG_CONFIG) --exists $$pc; then \
	    $(MAKE) --no-print-directory -s BUILD=$(BUILD)/compat-$$pc LUA_PC=$$pc $(BUILD)/compat-$$pc/paperspace/core.so && echo "compat: $$pc ok"; \
	  else echo "compat: $$pc headers not installed, skipped"; fi; \
	done

# --- Memory checks and fuzzing ------------------------------------------------
.PHONY: sanitize valgrind fuzz

# AddressSanitizer and UBSan. The core is built into its own tree and the
# uninstrumented lua5.4 gets the sanitizer runtime preloaded; every process
# the suite starts inherits it, and any report from any of them lands in
# SAN_LOG and fails the run. clang by default: its one runtime writes UBSan
# reports to SAN_LOG too (with SAN_CC=gcc they only reach stderr). Leaks are
# left to `make valgrind`: node, gcc and luarocks, which the suite runs, do not
# free everything at exit.
SAN_CC    ?= clang
SAN_BUILD  = $(BUILD)/sanitize/$(notdir $(firstword $(SAN_CC)))
SAN_LOG    = $(SAN_BUILD)/log
SAN_FLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_RT     = $(shell if $(SAN_CC) --version 2>/dev/null | grep -q clang; \
               then $(SAN_CC) -print-file-name=libclang_rt.asan-$$(uname -m).so; \
               else echo "$$($(SAN_CC) -print-file-name=libasan.so) $$($(SAN_CC) -print-file-name=libubsan.so)"; fi)
SAN_ENV    = LD_PRELOAD="$(SAN_RT)" \
             ASAN_OPTIONS="detect_leaks=0:detect_stack_use_after_return=1:log_path=$(CURDIR)/$(SAN_LOG)/report" \
             UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$(CURDIR)/$(SAN_LOG)/report"

# make sanitize: the whole suite with the core built under ASan and UBSan; fails on any report.
sanitize: test-deps check-deps
	@$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) CC=$(SAN_CC) CFLAGS="-O1 -g $(SAN_FLAGS)" \
	  LDFLAGS="$(SAN_FLAGS)" $(SAN_BUILD)/paperspace/core.so
	@rm -rf $(SAN_LOG) && mkdir -p $(SAN_LOG)
	@rc=0; SPEC_SKIP_TAGS="$(SANITIZE_SKIP_TAGS)" $(RUN_SPECS) --timeout $$(($(SPEC_TIMEOUT) * 3)) \
	  -- env $(SAN_ENV) $(LUA) $(BUSTED) \
	  --cpath="$(SAN_BUILD)/?.so" || rc=$$?; \
	if [ -n "$$(ls -A $(SAN_LOG))" ]; then cat $(SAN_LOG)/*; \
	  echo "sanitize: sanitizer reports above (kept in $(SAN_LOG))"; exit 1; fi; \
	exit $$rc

# Memcheck on the Lua process that loads the core (the processes it starts run
# natively). Lua's own state may be left "still reachable" at exit; definite
# and indirect leaks, and every other error, fail the run.
VALGRIND       ?= valgrind
VALGRIND_FLAGS  = -q --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect \
                  --show-leak-kinds=definite,indirect --error-exitcode=99 --trace-children=no \
                  --num-callers=40 --keep-debuginfo=yes $(if $(wildcard valgrind.supp),--suppressions=valgrind.supp)

# make valgrind: the whole suite under memcheck; fails on any error or definite/indirect leak.
valgrind: test-deps
	@$(MAKE) --no-print-directory all
	SPEC_SKIP_TAGS="$(VALGRIND_SKIP_TAGS)" $(RUN_SPECS) --timeout $$(($(SPEC_TIMEOUT) * 10)) -- $(VALGRIND) $(VALGRIND_FLAGS) $(LUA) $(BUSTED) \
	  --cpath="$(BUILD)/?.so"

# libFuzzer targets (fuzz/fuzz_<name>.c) for the C code that reads bytes from
# the network or builds URLs, linked with the core's objects built by clang
# under ASan and UBSan. Each runs FUZZ_TIME seconds from its seeds in
# fuzz/corpus/<name>; what it learns goes to FUZZ_BUILD/corpus, and an input
# that fails is written to FUZZ_BUILD (replay: FUZZ_BUILD/fuzz_<name> <file>).
FUZZ_CC      ?= clang
FUZZ_BUILD    = $(BUILD)/fuzz
FUZZ_TIME    ?= 20
FUZZ_TARGETS  = headers escape scrub request
FUZZ_SAN      = address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_OBJ      = $(patsubst src/%.c,$(FUZZ_BUILD)/obj/%.o,$(SRC))
FUZZ_LIBS     = $(shell $(PKG_CONFIG) --libs $(LUA_PC) 2>/dev/null) $(CURL_LIBS) -lm
.SECONDARY: $(FUZZ_OBJ)

$(FUZZ_BUILD)/obj/%.o: src/%.c src/paperspace.h src/compat.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(ALL_CFLAGS) -O1 -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(ALL_CFLAGS) -Isrc -O1 -fsanitize=fuzzer,$(FUZZ_SAN) $< $(FUZZ_OBJ) -o $@ $(FUZZ_LIBS)

# make fuzz: builds every fuzz target and runs each for FUZZ_TIME seconds; fails on any finding.
fuzz: check-deps $(addprefix $(FUZZ_BUILD)/fuzz_,$(FUZZ_TARGETS))
	@failed=; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	  dict=; [ -f fuzz/$$t.dict ] && dict=-dict=fuzz/$$t.dict; \
	  echo "fuzz: $$t for $(FUZZ_TIME)s"; \
	  if $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_TIME) -max_len=8192 -timeout=10 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/$$t- $$dict $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t \
	    > $(FUZZ_BUILD)/$$t.log 2>&1; then grep -E '^(Done|stat::(number_of_executed_units|new_units_added))' \
	    $(FUZZ_BUILD)/$$t.log; else cat $(FUZZ_BUILD)/$$t.log; failed="$$failed $$t"; fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed (inputs in $(FUZZ_BUILD))"; exit 1; fi

# The benchmark: its own nginx (HTTP, HTTPS) and emulator on 127.0.0.1; one
# table on stdout and in build/bench/results.md. BENCH_FLAGS=--quick: a smoke run.
.PHONY: bench
bench:
	bench/run $(BENCH_FLAGS)

# --- Every Lua, documentation -------------------------------------------------
.PHONY: test-all-luas docs

# make test-all-luas: the whole suite on Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT, each
# with its own build of the core (build/<lua>/); one summary line per Lua, then
# the overall "N passed, N failed". LUAS="lua5.1 luajit" for some of them.
# Files tagged ALL_LUAS_SKIP_TAGS run on lua5.4 only.
LUAS ?= lua5.1 lua5.2 lua5.3 lua5.4 luajit
test-all-luas: test-deps
	@BUSTED="$(BUSTED)" SKIP_TAGS="$(ALL_LUAS_SKIP_TAGS)" scripts/test-all-luas $(LUAS)

# make docs: the reference, with LDoc, into build/docs/; any warning fails.
docs:
	@command -v ldoc >/dev/null || scripts/install-deps --test
	ldoc --fatalwarnings --testing -q .

# How calls wait inside nginx: the library's way against a cosocket transport
# and nginx's thread pool (needs wrk); one table in build/bench-openresty/results.md.
.PHONY: bench-openresty
bench-openresty:
	bench/openresty $(BENCH_FLAGS)
