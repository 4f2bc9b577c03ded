// SPDX-License-Identifier: GPL-2.0
/*
 * VM lifecycle and memory regions through /dev/acrn_hsm with the HSM that $HSM_MODULE names
 * (acrn_hsm: ours, acrn: the upstream C HSM; acrn if unset), checked against the hypervisor's own counters (acrn-rs debug CPUID leaf):
 * CREATE_VM / PAUSE_VM / DESTROY_VM; SET_MEMSEG of Service VM RAM (pinned user memory) and
 * of MMIO; refusals for hypervisor memory (ACRN: only memory the Service VM owns), unaligned
 * and overlapping regions and RAM already given to another VM; 100 create/map/destroy
 * cycles that must leave no VM, region, buffer or page-table frame behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/types.h>

#include "kselftest_harness.h"
#include "acrn_rs_kmod.h"
#include "acrn_hv.h"
#include "selftests/acrn_hsm/hsm_vm.h"
#include "linux/acrn.h"

#define RAM_LEN (256 * 1024ul)
#define LAPIC_MMIO 0xfee00000ull /* never RAM, mapped into the Service VM */
#define CYCLES 100

struct vm {
	int fd;
	void *ioreq;
	__u16 vmid;
};

/* Opens /dev/acrn_hsm and creates a VM named @name; returns 0 or -errno. */
static int vm_create(struct vm *vm, const char *name)
{
	struct acrn_vm_creation cv = { 0 };

	vm->fd = open(HSM_DEV, O_RDWR | O_CLOEXEC);
	if (vm->fd < 0)
		return -errno;
	vm->ioreq = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->ioreq == MAP_FAILED)
		return -errno;
	snprintf((char *)cv.uuid, sizeof(cv.uuid), "%s", name);
	cv.ioreq_buf = (__u64)(unsigned long)vm->ioreq;
	if (ioctl(vm->fd, ACRN_IOCTL_CREATE_VM, &cv))
		return -errno;
	vm->vmid = cv.vmid;
	return 0;
}

/* Pauses and destroys the VM (ACRN destroys paused VMs only), then closes. */
static int vm_destroy(struct vm *vm)
{
	int ret = 0;

	if (ioctl(vm->fd, ACRN_IOCTL_PAUSE_VM, 0) || ioctl(vm->fd, ACRN_IOCTL_DESTROY_VM, 0))
		ret = -errno;
	close(vm->fd);
	munmap(vm->ioreq, PAGE);
	return ret;
}

static int memseg(struct vm *vm, __u32 type, __u64 gpa, __u64 hpa_or_va, __u64 len)
{
	struct acrn_vm_memmap m = {
		.type = type,
		.attr = ACRN_MEM_ACCESS_RWX,
		.user_vm_pa = gpa,
		.service_vm_pa = hpa_or_va,
		.len = len,
	};

	return ioctl(vm->fd, ACRN_IOCTL_SET_MEMSEG, &m) ? -errno : 0;
}

static void *ram(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

FIXTURE(hsm) {
	struct hv_counters before;
};

FIXTURE_SETUP(hsm)
{
	int ret;

	SKIP_UNLESS_ACRN_RS();
	if (getuid())
		SKIP(return, "needs root");
	ret = hsm_load();
	ASSERT_EQ(0, ret) TH_LOG("%s.ko: %s", hsm_module(), strerror(-ret));
	hv_counters(&self->before);
	ASSERT_EQ(0u, self->before.vms) TH_LOG("User VMs left over from an earlier test");
}

FIXTURE_TEARDOWN(hsm)
{
	struct hv_counters after;

	if (!is_acrn_rs() || getuid())
		return;
	hv_counters(&after);
	EXPECT_EQ(0u, after.vms);
	EXPECT_EQ(0u, after.vcpus);
	EXPECT_EQ(0u, after.regions);
	EXPECT_EQ(0u, after.ioreq_bufs);
	EXPECT_EQ(self->before.npt_frames, after.npt_frames) TH_LOG("page-table frames leaked");
	EXPECT_EQ(after.creates - self->before.creates, after.destroys - self->before.destroys);
	kmod_unload(hsm_module());
}

TEST_F(hsm, create_pause_destroy)
{
	struct hv_counters h;
	struct vm vm, dup;

	ASSERT_EQ(0, vm_create(&vm, "hv-create"));
	EXPECT_NE(0xffff, vm.vmid); /* ACRN_INVALID_VMID */
	hv_counters(&h);
	EXPECT_EQ(1u, h.vms);
	EXPECT_EQ(1u, h.ioreq_bufs);
	EXPECT_EQ(self->before.creates + 1, h.creates);
	/* A second VM with the same name is refused (ACRN: get_vmid_by_name). */
	EXPECT_EQ(-EINVAL, vm_create(&dup, "hv-create"));
	close(dup.fd);
	munmap(dup.ioreq, PAGE);
	EXPECT_EQ(0, vm_destroy(&vm));
}

TEST_F(hsm, memseg_ram_and_mmio)
{
	void *buf = ram(RAM_LEN);
	struct hv_counters h;
	struct vm vm;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, vm_create(&vm, "hv-memseg"));
	EXPECT_EQ(0, memseg(&vm, ACRN_MEMMAP_RAM, 0, (unsigned long)buf, RAM_LEN));
	EXPECT_EQ(0, memseg(&vm, ACRN_MEMMAP_MMIO, 0xc0000000, LAPIC_MMIO, PAGE));
	hv_counters(&h);
	EXPECT_GE(h.regions, 2u);
	EXPECT_GT(h.npt_frames, self->before.npt_frames);
	EXPECT_EQ(0, vm_destroy(&vm));
	munmap(buf, RAM_LEN);
}

TEST_F(hsm, memseg_hypervisor_memory_refused)
{
	struct hv_counters h;
	struct vm vm;

	hv_counters(&h);
	ASSERT_LT(h.hv_start, h.hv_end);
	ASSERT_EQ(0, vm_create(&vm, "hv-hvmem"));
	/* The first page, the last page, all of it, and a range running into it. */
	EXPECT_EQ(-EINVAL, memseg(&vm, ACRN_MEMMAP_MMIO, 0xc0000000, h.hv_start, PAGE));
	EXPECT_EQ(-EINVAL, memseg(&vm, ACRN_MEMMAP_MMIO, 0xc0000000, h.hv_end - PAGE, PAGE));
	EXPECT_EQ(-EINVAL, memseg(&vm, ACRN_MEMMAP_MMIO, 0xc0000000, h.hv_start,
				  h.hv_end - h.hv_start));
	EXPECT_EQ(-EINVAL, memseg(&vm, ACRN_MEMMAP_MMIO, 0xc0000000, h.hv_start - PAGE,
				  2 * PAGE));
	hv_counters(&h);
	EXPECT_EQ(0u, h.regions);
	EXPECT_EQ(0, vm_destroy(&vm));
}

TEST_F(hsm, memseg_invalid_regions)
{
	void *buf = ram(RAM_LEN);
	struct vm a, b;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, vm_create(&a, "hv-invalid-a"));
	ASSERT_EQ(0, vm_create(&b, "hv-invalid-b"));
	/* Unaligned addresses and sizes. */
	EXPECT_EQ(-EINVAL, memseg(&a, ACRN_MEMMAP_MMIO, 0xc0000001, LAPIC_MMIO, PAGE));
	EXPECT_EQ(-EINVAL, memseg(&a, ACRN_MEMMAP_MMIO, 0xc0000000, LAPIC_MMIO + 1, PAGE));
	EXPECT_EQ(-EINVAL, memseg(&a, ACRN_MEMMAP_MMIO, 0xc0000000, LAPIC_MMIO, 100));
	/* A range that wraps around the address space. */
	EXPECT_EQ(-EINVAL, memseg(&a, ACRN_MEMMAP_MMIO, 0xfffffffffffff000ull, LAPIC_MMIO,
				  2 * PAGE));
	/* Overlap inside one VM. */
	EXPECT_EQ(0, memseg(&a, ACRN_MEMMAP_MMIO, 0xc0000000, LAPIC_MMIO, PAGE));
	EXPECT_EQ(-EINVAL, memseg(&a, ACRN_MEMMAP_MMIO, 0xc0000000, LAPIC_MMIO, PAGE));
	/* The same RAM for two VMs: the second is refused. */
	EXPECT_EQ(0, memseg(&a, ACRN_MEMMAP_RAM, 0, (unsigned long)buf, RAM_LEN));
	EXPECT_NE(0, memseg(&b, ACRN_MEMMAP_RAM, 0, (unsigned long)buf, RAM_LEN));
	EXPECT_EQ(0, vm_destroy(&b));
	EXPECT_EQ(0, vm_destroy(&a));
	munmap(buf, RAM_LEN);
}

TEST_F(hsm, cycles_leave_nothing_behind)
{
	struct hv_counters h;
	char name[16];
	void *buf;
	int i;

	for (i = 0; i < CYCLES; i++) {
		struct vm vm;

		buf = ram(64 * 1024);
		ASSERT_NE(NULL, buf);
		snprintf(name, sizeof(name), "hv-cycle-%d", i);
		ASSERT_EQ(0, vm_create(&vm, name)) TH_LOG("cycle %d", i);
		ASSERT_EQ(0, memseg(&vm, ACRN_MEMMAP_RAM, 0x100000, (unsigned long)buf, 64 * 1024));
		ASSERT_EQ(0, memseg(&vm, ACRN_MEMMAP_MMIO, 0xfee00000, LAPIC_MMIO, PAGE));
		EXPECT_EQ(-EINVAL, memseg(&vm, ACRN_MEMMAP_MMIO, 0xc0000000,
					  self->before.hv_start, PAGE));
		ASSERT_EQ(0, vm_destroy(&vm)) TH_LOG("cycle %d", i);
		munmap(buf, 64 * 1024);
	}
	hv_counters(&h);
	EXPECT_EQ(self->before.creates + CYCLES, h.creates);
	EXPECT_EQ(self->before.destroys + CYCLES, h.destroys);
}

TEST_HARNESS_MAIN
