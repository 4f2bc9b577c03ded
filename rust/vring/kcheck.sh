#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Compile src/vring/ the way a Linux 6.12 Rust module includes it: a no_std crate root
# with `#[path] mod vring;`, edition 2021, core only, the kernel's rustc lints and clippy set.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/kmod.rs" <<EOT
//! Stand-in for a kernel module including the vring code.
#![no_std]

#[allow(unreachable_pub, dead_code)]
#[path = "$here/src/vring/mod.rs"]
mod vring;
EOT
flags="--edition 2021 --crate-type rlib --out-dir $tmp -D warnings -D unsafe_op_in_unsafe_fn
 -W missing_docs -W rust_2018_idioms -W unreachable_pub -D non_ascii_idents
 -C panic=abort -C overflow-checks=on"
clippy="-W clippy::all -A clippy::collapsible_if -A clippy::collapsible_match
 -W clippy::ignored_unit_patterns -W clippy::mut_mut -W clippy::needless_bitwise_bool
 -A clippy::needless_lifetimes -W clippy::no_mangle_with_rust_abi
 -D clippy::undocumented_unsafe_blocks -W clippy::unnecessary_safety_comment
 -W clippy::unnecessary_safety_doc -A clippy::uninlined_format_args -W clippy::float_arithmetic"
# shellcheck disable=SC2086
rustc $flags "$tmp/kmod.rs"
# shellcheck disable=SC2086
CLIPPY_CONF_DIR="$here" clippy-driver $flags $clippy "$tmp/kmod.rs"
echo "kcheck: src/vring compiles clean as kernel-module source"
