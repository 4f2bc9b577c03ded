// SPDX-License-Identifier: GPL-2.0
/*
 * Teardown of /dev/acrn_hsm VMs, for the HSM that $HSM_MODULE names (acrn_hsm: ours, acrn:
 * the C acrn.ko; acrn if unset), under the acrn-rs hypervisor:
 *
 *  - a DM killed with SIGKILL while it holds a VM with guest RAM: the file's release must
 *    destroy the VM in the hypervisor and unpin every page (the ioreq page and the RAM);
 *  - the same with the VM started (ACRN destroys paused VMs only: the HSM must pause first);
 *  - the module can not be unloaded while a VM file is open, and unload/reload cycles with
 *    VMs in between leave nothing behind.
 *
 * Pins are counted with /proc/vmstat's nr_foll_pin_acquired - nr_foll_pin_released (pages
 * pinned with FOLL_PIN right now, after vm/stat_refresh); VMs, regions and ioreq buffers with the hypervisor's own
 * counters (acrn-rs debug CPUID leaf).
 */
#include <signal.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "hsm_vm.h"

#define RAM_PAGES 256ul
#define RELOADS 10

/*
 * A DM: opens the HSM, creates a VM with RAM_PAGES of guest RAM at GPA 0 (and the ioreq
 * page), optionally starts it. Returns the open file, or -errno.
 */
static int dm_setup(const char *name, int start)
{
	struct acrn_vm_creation cv = { 0 };
	struct acrn_vm_memmap m = {
		.type = ACRN_MEMMAP_RAM,
		.attr = ACRN_MEM_ACCESS_RWX,
		.len = RAM_PAGES * PAGE,
	};
	void *ioreq, *ram;
	int fd;

	fd = open(HSM_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ioreq = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ram = mmap(NULL, m.len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (ioreq == MAP_FAILED || ram == MAP_FAILED)
		return -ENOMEM;
	/* Guest RAM of hlt instructions: a guest that runs halts at once. */
	memset(ram, 0xf4, m.len);
	snprintf((char *)cv.uuid, sizeof(cv.uuid), "%s", name);
	cv.ioreq_buf = (__u64)(unsigned long)ioreq;
	m.vma_base = (__u64)(unsigned long)ram;
	if (ioctl(fd, ACRN_IOCTL_CREATE_VM, &cv) || ioctl(fd, ACRN_IOCTL_SET_MEMSEG, &m))
		return -errno;
	if (start && ioctl(fd, ACRN_IOCTL_START_VM, 0))
		return -errno;
	return fd;
}

FIXTURE(teardown) {
	struct hv_counters before;
	long pins;
};

FIXTURE_SETUP(teardown)
{
	int ret;

	SKIP_UNLESS_ACRN_RS();
	if (getuid())
		SKIP(return, "needs root");
	ret = hsm_load();
	ASSERT_EQ(0, ret) TH_LOG("%s.ko: %s", hsm_module(), strerror(-ret));
	hv_counters(&self->before);
	ASSERT_EQ(0u, self->before.vms) TH_LOG("User VMs left over from an earlier test");
	self->pins = pinned_pages();
	ASSERT_LE(0, self->pins) TH_LOG("no vm/stat_refresh or nr_foll_pin_* in /proc/vmstat");
}

FIXTURE_TEARDOWN(teardown)
{
	struct hv_counters after;

	if (!is_acrn_rs() || getuid())
		return;
	hv_counters(&after);
	EXPECT_EQ(0u, after.vms);
	EXPECT_EQ(0u, after.regions);
	EXPECT_EQ(0u, after.ioreq_bufs);
	EXPECT_EQ(self->pins, pinned_pages()) TH_LOG("pages left pinned");
	kmod_unload(hsm_module());
}

/* Forks a DM that sets up a VM, tells us, and waits to be killed; kills it. */
static void kill_dm(struct __test_metadata *_metadata, FIXTURE_DATA(teardown) *self, int start)
{
	struct hv_counters h;
	int pipefd[2], status;
	char ok = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = dm_setup("hsm-killed-dm", start);

		ok = fd >= 0 ? 1 : 0;
		if (write(pipefd[1], &ok, 1) != 1 || fd < 0)
			_exit(1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	ASSERT_EQ(1, read(pipefd[0], &ok, 1));
	close(pipefd[0]);
	ASSERT_EQ(1, ok) TH_LOG("the DM could not set up its VM");
	hv_counters(&h);
	EXPECT_EQ(1u, h.vms);
	EXPECT_EQ(self->pins + 1 + (long)RAM_PAGES, pinned_pages());
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	/* The file was released in the DM's exit, before waitpid returned. */
	hv_counters(&h);
	EXPECT_EQ(0u, h.vms) TH_LOG("the killed DM's VM is still in the hypervisor");
	EXPECT_EQ(self->pins, pinned_pages()) TH_LOG("the killed DM's pages are still pinned");
}

/*
 * acrn.ko's release calls HC_DESTROY_VM without pausing the VM first; ACRN destroys paused
 * VMs only, so the VM of a DM that dies stays in the hypervisor with its pages pinned, and
 * would spoil every later test of the boot (Documentation/hsm.rst).
 */
#define SKIP_IF_C_HSM() do {								\
	if (!hsm_is_ours())								\
		SKIP(return, "acrn.ko leaks the VM of a killed DM (Documentation/hsm.rst)"); \
} while (0)

TEST_F(teardown, killed_dm_created_vm)
{
	SKIP_IF_C_HSM();
	kill_dm(_metadata, self, 0);
}

TEST_F(teardown, killed_dm_started_vm)
{
	SKIP_IF_C_HSM();
	kill_dm(_metadata, self, 1);
}

/* An open VM file holds the module; after the last close it unloads and loads again. */
TEST_F(teardown, unload_reload_cycles)
{
	for (int i = 0; i < RELOADS; i++) {
		int fd = dm_setup("hsm-reload", 0);
		int ret;

		ASSERT_LE(0, fd) TH_LOG("cycle %d: %s", i, strerror(-fd));
		EXPECT_EQ(-EWOULDBLOCK, kmod_unload(hsm_module())) TH_LOG("cycle %d", i);
		/* A well-behaved DM: pause, destroy, close. */
		EXPECT_EQ(0, ioctl(fd, ACRN_IOCTL_PAUSE_VM, 0));
		EXPECT_EQ(0, ioctl(fd, ACRN_IOCTL_DESTROY_VM, 0));
		close(fd);
		ASSERT_EQ(0, kmod_unload(hsm_module())) TH_LOG("cycle %d", i);
		EXPECT_FALSE(kmod_loaded(hsm_module()));
		ret = kmod_load(hsm_module());
		ASSERT_EQ(0, ret) TH_LOG("cycle %d: %s", i, strerror(-ret));
	}
}

TEST_HARNESS_MAIN
