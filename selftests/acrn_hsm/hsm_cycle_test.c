// SPDX-License-Identifier: GPL-2.0
/*
 * Life cycles of /dev/acrn_hsm under the acrn-rs hypervisor, for the HSM that $HSM_MODULE
 * names: 100 VMs created and destroyed with every kind of I/O state attached (default client,
 * ioeventfds, irqfds, a request held by the device model, RAM), files closed without
 * DESTROY_VM, and module unload/reload; afterwards no VM, region or request buffer is left in
 * the hypervisor and every pinned page is unpinned (/proc/vmstat) and freed (MemFree).
 */
#include <sys/eventfd.h>

#include "kselftest_harness.h"
#include "hsm_vm.h"

#define RAM_PAGES 128

/* MemFree from /proc/meminfo, in KiB; 0 if unknown. */
static unsigned long mem_free_kib(void)
{
	char line[256];
	unsigned long kib = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

FIXTURE(cycle) {
	int unused;
};

FIXTURE_SETUP(cycle)
{
	int ret;

	SKIP_UNLESS_ACRN_RS();
	if (getuid())
		SKIP(return, "needs root");
	ret = hsm_load();
	ASSERT_EQ(0, ret) TH_LOG("%s.ko: %s", hsm_module(), strerror(-ret));
}

FIXTURE_TEARDOWN(cycle)
{
	struct hv_counters h;

	hv_counters(&h);
	EXPECT_EQ(0u, h.vms);
	EXPECT_EQ(0u, h.ioreq_bufs);
	EXPECT_EQ(0u, h.regions);
	kmod_unload(hsm_module());
}

/*
 * One VM with a bit of everything, its RAM freshly mapped (so pages left pinned show in
 * MemFree once unmapped); destroyed explicitly, or by close() when @close_only.
 */
static int one_cycle(struct __test_metadata *_metadata, int i, bool close_only)
{
	void *ram = mmap(NULL, RAM_PAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct acrn_vm_memmap m = {
		.type = ACRN_MEMMAP_RAM, .attr = ACRN_MEM_ACCESS_RWX,
		.user_vm_pa = 0, .vma_base = (unsigned long)ram, .len = RAM_PAGES * PAGE,
	};
	struct acrn_ioeventfd io = {
		.flags = ACRN_IOEVENTFD_FLAG_PIO, .addr = 0x6000, .len = 2,
	};
	struct acrn_irqfd irq = { .msi = { 0xfee00000, 0x31 } };
	struct hsm_vm vm;
	char name[16];
	int efd, ret;

	if (ram == MAP_FAILED)
		return -ENOMEM;
	memset(ram, 0x5a, RAM_PAGES * PAGE);
	snprintf(name, sizeof(name), "hsm-cycle-%d", i);
	ret = hsm_vm_create(&vm, name);
	EXPECT_EQ(0, ret);
	if (ret) {
		hsm_vm_destroy(&vm);
		munmap(ram, RAM_PAGES * PAGE);
		return ret;
	}
	efd = eventfd(0, EFD_CLOEXEC);
	EXPECT_LE(0, efd);
	io.fd = efd;
	irq.fd = efd;
	EXPECT_EQ(0, err(ioctl(vm.fd, ACRN_IOCTL_SET_MEMSEG, &m)));
	EXPECT_EQ(0, err(ioctl(vm.fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	EXPECT_EQ(0, err(ioctl(vm.fd, ACRN_IOCTL_IOEVENTFD, &io)));
	EXPECT_EQ(0, err(ioctl(vm.fd, ACRN_IOCTL_IRQFD, &irq)));
	if (i % 10 == 0) {
		/* A request held by the device model when the VM goes away. */
		hsm_post_pio(&vm, 0, ACRN_IOREQ_DIR_READ, 0x70, 1, 0);
		EXPECT_EQ(0, hsm_kick());
		EXPECT_EQ(ACRN_IOREQ_STATE_PROCESSING, hsm_wait_dispatched(&vm, 0));
	}
	close(efd);
	if (close_only) {
		/*
		 * A device model that dies: our release() pauses and destroys the VM; acrn.ko's
		 * only destroys, which needs a paused VM (Documentation/hsm.rst).
		 */
		if (!hsm_is_ours())
			ioctl(vm.fd, ACRN_IOCTL_PAUSE_VM, 0);
		close(vm.fd);
		vm.fd = -1;
	}
	ret = hsm_vm_destroy(&vm);
	munmap(ram, RAM_PAGES * PAGE);
	return ret;
}

TEST_F(cycle, create_destroy_100)
{
	struct hv_counters before, after;
	unsigned long free_before, free_after;
	long pins_before, pins_after;
	int i;

	/* One warm-up cycle: first-use allocations (slabs, workqueues) are not leaks. */
	ASSERT_EQ(0, one_cycle(_metadata, 0, false));
	hv_counters(&before);
	free_before = mem_free_kib();
	pins_before = pinned_pages();
	for (i = 1; i <= 100; i++)
		ASSERT_EQ(0, one_cycle(_metadata, i, i % 2));
	hv_counters(&after);
	free_after = mem_free_kib();
	pins_after = pinned_pages();
	/* Every VM created (the cycles' and hsm_kick()'s scratch VMs) was destroyed. */
	EXPECT_LE(before.creates + 100, after.creates);
	EXPECT_EQ(after.creates - before.creates, after.destroys - before.destroys);
	EXPECT_EQ(0u, after.vms);
	EXPECT_EQ(0u, after.regions);
	EXPECT_EQ(0u, after.ioreq_bufs);
	/* Every page pinned for the RAM and the request pages was unpinned. */
	ASSERT_LE(0, pins_before);
	EXPECT_EQ(pins_before, pins_after);
	/* Pages left pinned would be 100 * (RAM_PAGES + 1) * 4 KiB; allow half of it as noise. */
	TH_LOG("MemFree %lu -> %lu KiB", free_before, free_after);
	EXPECT_GE(free_after + 100 * (RAM_PAGES + 1) * 4 / 2, free_before);
}

/* The module unloads once every file is closed, even with VMs that were never destroyed. */
TEST_F(cycle, unload_reload)
{
	struct hsm_vm vm;
	int i;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, hsm_vm_create(&vm, "hsm-reload"));
		ASSERT_EQ(0, err(ioctl(vm.fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
		/* In use: refused. */
		EXPECT_NE(0, kmod_unload(hsm_module()));
		if (!hsm_is_ours())
			ioctl(vm.fd, ACRN_IOCTL_PAUSE_VM, 0);
		close(vm.fd);
		vm.fd = -1;
		hsm_vm_destroy(&vm);
		ASSERT_EQ(0, kmod_unload(hsm_module()));
		EXPECT_EQ(-ENOENT, err(open(HSM_DEV, O_RDWR)));
		ASSERT_EQ(0, kmod_load(hsm_module()));
	}
}

TEST_HARNESS_MAIN
