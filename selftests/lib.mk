# SPDX-License-Identifier: GPL-2.0
# Build rules shared by the acrn-rs selftest suites, in the spirit of the kernel's
# tools/testing/selftests/lib.mk. A suite Makefile sets TEST_GEN_PROGS (C programs, one
# source file each: prog.c) and includes this file.
#
#   make -C selftests/<suite> KSRC=<kernel source> OUTPUT=<dir>   build into OUTPUT
#
# Programs are linked statically: the guest initramfs has no C library.

# Not SUITE: `make selftest SUITE=x` at the top passes SUITE down to every sub-make.
SUITE_NAME := $(notdir $(CURDIR))
OUTPUT ?= $(CURDIR)/out
ROOT := $(abspath $(CURDIR)/../..)
ifeq ($(KSRC),)
$(error KSRC (the kernel source tree, for kselftest_harness.h) is not set)
endif

CC ?= gcc
CFLAGS += -O2 -g -Wall -Werror -D_GNU_SOURCE -pthread \
	-I$(KSRC)/tools/testing/selftests -I$(ROOT)/selftests/include -I$(ROOT)/uapi -I$(ROOT)
LDFLAGS += -static -pthread

PROGS := $(addprefix $(OUTPUT)/,$(TEST_GEN_PROGS) $(TEST_GEN_FILES))

all: $(PROGS)
	@if [ -f settings ]; then cp settings $(OUTPUT)/settings; fi

$(OUTPUT)/%: %.c $(wildcard $(ROOT)/selftests/include/*.h) | $(OUTPUT)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

$(OUTPUT):
	mkdir -p $@

# Lines for kselftest-list.txt: suite:prog
list:
	@for p in $(TEST_GEN_PROGS); do echo "$(SUITE_NAME):$$p"; done

clean:
	rm -f $(PROGS)

.PHONY: all list clean
