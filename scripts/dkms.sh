#!/usr/bin/env bash
# DKMS packaging of acrn-rs's modules (acrn_hsm, vhost_net_rs, vhost_blk_rs; dkms.conf).
#
#   scripts/dkms.sh install [KVER]   copy the module sources to /usr/src/acrn-rs-<version>,
#                                    then dkms add, build and install for KVER (default: the
#                                    running kernel); needs root and that kernel's build tree
#   scripts/dkms.sh test KDIR        the same build with DKMS in a scratch tree, against the
#                                    kernel build tree KDIR, installing nothing (make check)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' dkms.conf)
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
modules=$(sed -n 's/^BUILT_MODULE_NAME\[[0-9]*\]="\(.*\)"/\1/p' dkms.conf)
command -v dkms >/dev/null || die "dkms is missing: install it ('make deps')"

# copy_sources DIR: what Kbuild needs, as tracked by git (no build output).
copy_sources() {
	mkdir -p "$1"
	git ls-files -co --exclude-standard Kbuild dkms.conf scripts/dkms-make.sh hsm rust uapi vhost-net vhost-blk samples/rust_misc \
		samples/hsm_client | grep -v -e '^rust/vring/tests/' -e '\.md$' |
		tar -cf - -T - | tar -xf - -C "$1"
}

case "${1:-}" in
install)
	kver=${2:-$(uname -r)}
	src=/usr/src/$name-$version
	rm -rf "$src"
	copy_sources "$src"
	dkms remove "$name/$version" --all >/dev/null 2>&1 || true
	dkms add "$name/$version"
	dkms build "$name/$version" -k "$kver"
	dkms install "$name/$version" -k "$kver"
	;;
test)
	kdir=${2:?usage: scripts/dkms.sh test KDIR}
	kver=$(cat "$kdir/include/config/kernel.release")
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/acrn-rs-dkms.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/tree"
	copy_sources "$tmp/src/$name-$version"
	dkms add --sourcetree "$tmp/src" --dkmstree "$tmp/tree" "$name/$version"
	if ! dkms build --sourcetree "$tmp/src" --dkmstree "$tmp/tree" -k "$kver" \
		--kernelsourcedir "$kdir" "$name/$version"; then
		tail -n 30 "$tmp/tree/$name/$version/build/make.log" >&2
		die "the DKMS build failed"
	fi
	for m in $modules; do
		ko=$(find "$tmp/tree/$name/$version/$kver" -name "$m.ko*" | head -n 1)
		[ -n "$ko" ] || die "DKMS built no $m.ko"
		echo "dkms: built $(basename "$ko")"
	done
	;;
*)
	sed -n '2,8s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac
