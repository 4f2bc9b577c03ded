# Shared settings for the acrn-rs build scripts; sourced, not run.
# ACRN_RS_CACHE holds everything built outside the repository (kernel source and builds).

ACRN_RS_CACHE=${ACRN_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/acrn-rs}
LLVM_SUFFIX=${LLVM_SUFFIX:--16}
KERNEL_TARBALL=${KERNEL_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NPROC=$(nproc)

die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# Debian package version of the kernel source, e.g. 6.12.117-1~deb12u1.
kernel_src_version() {
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || echo unknown
}

# Version of the kernel build procedure in scripts/kernel.sh: bump it whenever a change there
# alters what gets built (make arguments, config steps), so that cached builds are redone.
KERNEL_RECIPE=2

# Cache key of one kernel flavour: kernel source version, config fragments, build recipe and
# the toolchain whose metadata out-of-tree Rust modules must match exactly.
kernel_key() {
	local flavour=$1
	local h
	h=$( {
		cat "$REPO_ROOT/scripts/kconfig/base.config" "$REPO_ROOT/scripts/kconfig/$flavour.config"
		echo "recipe $KERNEL_RECIPE"
		# Before `make deps` a tool may be missing: the key is then simply another one.
		rustc --version 2>/dev/null || echo "no rustc"
		"clang$LLVM_SUFFIX" --version 2>/dev/null | head -n1 || echo "no clang"
		bindgen --version 2>/dev/null || echo "no bindgen"
	} | sha256sum | cut -c1-12)
	printf 'linux-%s-%s-%s\n' "$(kernel_src_version)" "$flavour" "$h"
}

kernel_dir() { printf '%s/kernel/%s\n' "$ACRN_RS_CACHE" "$(kernel_key "$1")"; }
