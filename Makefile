# SPDX-License-Identifier: GPL-2.0
# acrn-rs: the ACRN Service VM stack in Rust. See README.md.
#
#   make deps                     install the toolchain (apt, rustup component, bindgen-cli)
#   make kernel                   build (or reuse) the test kernel in the cache
#   make / make modules           build our modules against KDIR
#   make hypervisor               build the hypervisor into build/acrn-hv.elf
#   make samples                  the sample device model (samples/dm) and guests, staged in
#                                 build/rootfs for the initramfs
#   make check                    all tests: host cargo tests + modules + selftests in QEMU
#   make selftest SUITE=x [HSM=c] one selftest suite in QEMU (HSM=c: the C acrn.ko)
#                 [REPEAT=n]      ... run n times over in the same boot (flaky-test hunting)
#                 [HV=1]          ... under our hypervisor (suites acrn_hsm, hypervisor, dm)
#   make run [HV=0]               boot the stack in QEMU: our hypervisor, the Service VM with
#                                 our modules, a shell on its console (HV=0: no hypervisor)
#   make install                  install the modules (INSTALL_MOD_PATH honoured)
#   make dkms [KVER=...]          install the module sources for DKMS (/usr/src/acrn-rs-<v>),
#                                 build and install them for KVER (default: the running kernel)
#   make bench                    ours against the C references, release kernel, one boot
#              [BENCHES=a,b]      ... only these programs (e.g. vhost_blk_bench,hsm_bench)
#              [FILTER=s,t]       ... only the figures whose name contains s or t
#              [PROFILE=1]        ... each program under kprof: where the CPU time went
#
# KDIR may name any Rust-enabled Linux 6.12 build tree; by default it is the cached test
# kernel of FLAVOUR (debug: lock/KASAN/kmemleak checking; release: for benchmarks).

FLAVOUR ?= debug
LLVM ?= -16
DEFAULT_KDIR := $(shell scripts/kernel.sh --print-dir $(FLAVOUR))
KDIR ?= $(DEFAULT_KDIR)
KSRC ?= $(if $(wildcard $(KDIR)/source),$(KDIR)/source,$(KDIR))
BUILD ?= $(CURDIR)/build
SUITE ?=
HSM ?= rust
REPEAT ?= 1
# selftest: no hypervisor unless HV=1 (make run reads HV itself, default 1).
HV ?= 0
CLIPPY ?= 1

KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM)

all: modules

deps:
	scripts/deps.sh

kernel:
	scripts/kernel.sh $(FLAVOUR)

# The cached kernel is built on demand; a KDIR given by the user is used as it is.
ifeq ($(KDIR),$(DEFAULT_KDIR))
$(KDIR)/.done:
	scripts/kernel.sh $(FLAVOUR)
KERNEL_DEP := $(KDIR)/.done
endif

modules: $(KERNEL_DEP)
	$(KMAKE) CLIPPY=$(CLIPPY) modules
	rm -rf $(BUILD)/modules && mkdir -p $(BUILD)/modules
	sed 's/\.o$$/.ko/' modules.order | xargs -I{} cp {} $(BUILD)/modules/

install: modules
	$(KMAKE) modules_install

dkms:
	scripts/dkms.sh install $(KVER)

selftests: $(KERNEL_DEP)
	rm -rf $(BUILD)/selftests
	$(MAKE) -C selftests KSRC=$(KSRC) OUTPUT=$(BUILD)/selftests

# The sample DM is a static userspace Rust program (glibc, crt-static) for the initramfs.
DM_TARGET := x86_64-unknown-linux-gnu
samples:
	rm -rf $(BUILD)/rootfs && mkdir -p $(BUILD)/rootfs/usr/bin $(BUILD)/rootfs/usr/share/acrn-rs
	cd samples/dm && RUSTFLAGS="-C target-feature=+crt-static" \
		cargo build --locked --release --target $(DM_TARGET)
	cp samples/dm/target/$(DM_TARGET)/release/acrn-dm-rs $(BUILD)/rootfs/usr/bin/
	$(MAKE) -C samples/guests OUTPUT=$(BUILD)/rootfs/usr/share/acrn-rs

initramfs: modules selftests samples
	scripts/initramfs.sh --kernel-dir $(KDIR) --modules $(BUILD)/modules \
		--selftests $(BUILD)/selftests --extra $(BUILD)/rootfs --out $(BUILD)/initramfs.cpio.gz

# The hypervisor: a multiboot1 ELF for x86_64-unknown-none (hypervisor/hv).
HV_TARGET := x86_64-unknown-none
hypervisor:
	cd hypervisor && cargo build --locked --release -p acrn-hv --target $(HV_TARGET)
	mkdir -p $(BUILD) && cp hypervisor/target/$(HV_TARGET)/release/acrn-hv $(BUILD)/acrn-hv.elf

check:
	scripts/check.sh

bench:
	BENCHES="$(BENCHES)" FILTER="$(FILTER)" PROFILE="$(PROFILE)" scripts/bench.sh

selftest: initramfs $(if $(filter 1,$(HV)),hypervisor)
	scripts/qemu-run.sh $(if $(filter 1,$(HV)),--hypervisor $(BUILD)/acrn-hv.elf) \
		--kernel $(KDIR)/arch/x86/boot/bzImage --initrd $(BUILD)/initramfs.cpio.gz \
		--append "acrn_rs.hsm=$(HSM) acrn_rs.repeat=$(REPEAT) $(if $(SUITE),acrn_rs.suites=$(SUITE))" \
		--timeout $$((900 * $(REPEAT))) --log $(BUILD)/selftest.log \
		> /dev/null || true
	scripts/results.py guest --expect-end $(BUILD)/selftest.log

run:
	scripts/run.sh acrn_rs.hsm=$(HSM)

clean:
	-$(KMAKE) clean
	rm -rf $(BUILD)

.PHONY: all deps kernel modules install dkms selftests samples initramfs hypervisor check selftest run clean
