#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The build command of dkms.conf, run by DKMS in its copy of the sources:
#   sh scripts/dkms-make.sh KERNEL_SOURCE_DIR [VAR=value...]
# DKMS appends CC=clang and LD=ld.lld for a clang-built kernel; those unversioned names need
# not exist (Debian's clang-16 installs clang-16), so they are dropped and LLVM= (default -16,
# override with ACRN_RS_LLVM) picks the toolchain the kernel was built with.
kdir=$1
shift
set -- $(for a in "$@"; do case "$a" in CC=*|LD=*) ;; *) printf '%s\n' "$a" ;; esac; done)
exec make -C "$kdir" M="$PWD" LLVM="${ACRN_RS_LLVM:--16}" "$@" modules
