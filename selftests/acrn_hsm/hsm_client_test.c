// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel I/O request client API of acrn_hsm.ko, through samples/hsm_client
 * (acrn_hsm_client_sample.ko, which claims four ports of a VM): requests in its range go to it
 * and are completed in the kernel, at once or deferred; others go to the device model; after
 * the sample is unloaded its ports are the device model's again. acrn.ko exports no such API:
 * skipped there.
 */
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "hsm_vm.h"

#define SAMPLE "acrn_hsm_client_sample"
#define PORT 0x7000

/* Loads the sample with @params; 0 or -errno. */
static int sample_load(const char *params)
{
	const char *path = kmod_path(SAMPLE);
	int fd, ret;

	if (!path)
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(__NR_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

static unsigned long sample_param(const char *name)
{
	char path[256];
	unsigned long v = ~0ul;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", SAMPLE, name);
	f = fopen(path, "r");
	if (!f)
		return v;
	if (fscanf(f, "%lu", &v) != 1)
		v = ~0ul;
	fclose(f);
	return v;
}

FIXTURE(client) {
	struct hsm_vm vm;
};

FIXTURE_SETUP(client)
{
	char params[64];
	int ret;

	self->vm.fd = -1;
	SKIP_UNLESS_ACRN_RS();
	if (getuid())
		SKIP(return, "needs root");
	if (!hsm_is_ours())
		SKIP(return, "acrn.ko exports no client API to modules");
	if (kmod_loaded(SAMPLE))
		kmod_unload(SAMPLE);
	ret = hsm_load();
	ASSERT_EQ(0, ret) TH_LOG("%s.ko: %s", hsm_module(), strerror(-ret));
	/* No VM with that id: the sample's acrn_hsm_vm_get() finds none. */
	EXPECT_EQ(-ENODEV, sample_load("vmid=0x7fff"));
	ASSERT_EQ(0, hsm_vm_create(&self->vm, "hsm-client"));
	ASSERT_EQ(0, err(ioctl(self->vm.fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	snprintf(params, sizeof(params), "vmid=%u port=%u", self->vm.cv.vmid, PORT);
	ASSERT_EQ(0, sample_load(params));
}

FIXTURE_TEARDOWN(client)
{
	struct hv_counters h;

	if (self->vm.fd < 0)
		return;
	if (kmod_loaded(SAMPLE))
		EXPECT_EQ(0, kmod_unload(SAMPLE));
	EXPECT_EQ(0, hsm_vm_destroy(&self->vm));
	hv_counters(&h);
	EXPECT_EQ(0u, h.vms);
	kmod_unload(hsm_module());
}

TEST_F(client, requests_in_range)
{
	struct hsm_vm *vm = &self->vm;
	struct acrn_io_request *req = hsm_slot(vm, 0);

	/* The sample holds a reference: acrn_hsm.ko can not go first. */
	EXPECT_NE(0, kmod_unload(hsm_module()));

	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_READ, PORT + 1, 2, 0);
	ASSERT_EQ(0, hsm_kick());
	ASSERT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(1u, req->kernel_handled);
	EXPECT_EQ(0xc0ffee00u, req->reqs.pio_request.value);

	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_WRITE, PORT + 2, 2, 0x1234);
	ASSERT_EQ(0, hsm_kick());
	ASSERT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(0x1234ul, sample_param("last_write"));

	/* Deferred: PROCESSING until the sample's work item completes it. */
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_WRITE, PORT, 4, 0xdefe);
	ASSERT_EQ(0, hsm_kick());
	hsm_wait_dispatched(vm, 0);
	usleep(100000);
	EXPECT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_slot_state(vm, 0));
	EXPECT_EQ(0xdefeul, sample_param("last_write"));

	/* An access that runs past the range is the device model's. */
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_READ, PORT + 3, 2, 0);
	ASSERT_EQ(0, hsm_kick());
	ASSERT_EQ(ACRN_IOREQ_STATE_PROCESSING, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(0u, req->kernel_handled);
	EXPECT_EQ(0, err(ioctl(vm->fd, ACRN_IOCTL_CLEAR_VM_IOREQ, 0)));
}

TEST_F(client, unload_gives_ports_back)
{
	struct hsm_vm *vm = &self->vm;

	ASSERT_EQ(0, kmod_unload(SAMPLE));
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_READ, PORT, 4, 0);
	ASSERT_EQ(0, hsm_kick());
	ASSERT_EQ(ACRN_IOREQ_STATE_PROCESSING, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(0u, hsm_slot(vm, 0)->kernel_handled);
	EXPECT_EQ(0, err(ioctl(vm->fd, ACRN_IOCTL_CLEAR_VM_IOREQ, 0)));
}

/* A VM destroyed under the sample: its client stops; unloading it later is clean. */
TEST_F(client, vm_destroyed_first)
{
	EXPECT_EQ(0, hsm_vm_destroy(&self->vm));
	EXPECT_EQ(0, kmod_unload(SAMPLE));
	self->vm.fd = -1;
	kmod_unload(hsm_module());
}

TEST_HARNESS_MAIN
