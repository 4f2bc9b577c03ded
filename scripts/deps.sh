#!/usr/bin/env bash
# Install what acrn-rs needs on a Debian 12 machine: the LLVM-16 toolchain, Debian's
# linux-source-6.12, QEMU, busybox and kernel build tools; rustup's rust-src and the
# x86_64-unknown-none target (hypervisor); bindgen-cli.
# Idempotent: when everything is present it only checks and returns in about a second.
set -euo pipefail

BINDGEN_VERSION=${BINDGEN_VERSION:-0.72.1}

APT_PKGS=(
	clang-16 lld-16 llvm-16 libclang-16-dev
	linux-source-6.12
	qemu-system-x86 busybox-static cpio
	flex bison bc libelf-dev libssl-dev dwarves
	make gcc libc6-dev python3 xz-utils kmod dkms
)

log() { printf 'deps: %s\n' "$*"; }

sudo_cmd() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${APT_PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -gt 0 ]; then
	log "installing Debian packages: ${missing[*]}"
	sudo_cmd apt-get update -qq
	sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v rustup >/dev/null 2>&1; then
	log "rustup not found: install Rust with rustup first" >&2
	exit 1
fi
if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
	log "adding rustup component rust-src"
	rustup component add rust-src
fi

# The hypervisor (hypervisor/hv) is built for the bare-metal x86-64 target.
if ! rustup target list --installed 2>/dev/null | grep -qx 'x86_64-unknown-none'; then
	log "adding rustup target x86_64-unknown-none"
	rustup target add x86_64-unknown-none
fi

if ! command -v bindgen >/dev/null 2>&1 || [ "$(bindgen --version | awk '{print $2}')" != "$BINDGEN_VERSION" ]; then
	log "installing bindgen-cli $BINDGEN_VERSION"
	cargo install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION"
fi

log "ok"
