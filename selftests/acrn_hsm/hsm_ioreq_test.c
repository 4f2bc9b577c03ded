// SPDX-License-Identifier: GPL-2.0
/*
 * I/O requests on /dev/acrn_hsm under the acrn-rs hypervisor, for the HSM that $HSM_MODULE
 * names: the default client's ioctls (CREATE/ATTACH/DESTROY_IOREQ_CLIENT,
 * NOTIFY_REQUEST_FINISH, CLEAR_VM_IOREQ) with good and bad input, and the dispatcher on
 * requests the test posts into the request page itself (see hsm_vm.h): routing to the device
 * model, PCI configuration ports 0xCF8/0xCFC, clearing.
 */
#include <pthread.h>

#include "kselftest_harness.h"
#include "hsm_vm.h"

FIXTURE(ioreq) {
	struct hsm_vm vm;
};

FIXTURE_SETUP(ioreq)
{
	struct acrn_ioreq_notify n = { 0 };
	int fd, ret;

	self->vm.fd = -1;
	SKIP_UNLESS_ACRN_RS();
	if (getuid())
		SKIP(return, "needs root");
	ret = hsm_load();
	ASSERT_EQ(0, ret) TH_LOG("%s.ko: %s", hsm_module(), strerror(-ret));
	/* Before CREATE_VM the I/O request commands are refused like any other. */
	fd = open(HSM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, err(ioctl(fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	EXPECT_EQ(-EINVAL, err(ioctl(fd, ACRN_IOCTL_ATTACH_IOREQ_CLIENT, 0)));
	EXPECT_EQ(-EINVAL, err(ioctl(fd, ACRN_IOCTL_DESTROY_IOREQ_CLIENT, 0)));
	EXPECT_EQ(-EINVAL, err(ioctl(fd, ACRN_IOCTL_CLEAR_VM_IOREQ, 0)));
	EXPECT_EQ(-EINVAL, err(ioctl(fd, ACRN_IOCTL_NOTIFY_REQUEST_FINISH, &n)));
	close(fd);
	ASSERT_EQ(0, hsm_vm_create(&self->vm, "hsm-ioreq"));
	ASSERT_LE(1, self->vm.cv.vcpu_num);
}

FIXTURE_TEARDOWN(ioreq)
{
	struct hv_counters h;

	if (self->vm.fd < 0)
		return;
	EXPECT_EQ(0, hsm_vm_destroy(&self->vm));
	hv_counters(&h);
	EXPECT_EQ(0u, h.vms);
	EXPECT_EQ(0u, h.ioreq_bufs);
	kmod_unload(hsm_module());
}

TEST_F(ioreq, client_lifecycle)
{
	int fd = self->vm.fd;

	EXPECT_EQ(-ENODEV, err(ioctl(fd, ACRN_IOCTL_ATTACH_IOREQ_CLIENT, 0)));
	/* Destroying a client that does not exist is not an error. */
	EXPECT_EQ(0, err(ioctl(fd, ACRN_IOCTL_DESTROY_IOREQ_CLIENT, 0)));
	EXPECT_EQ(0, err(ioctl(fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	EXPECT_EQ(-EEXIST, err(ioctl(fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	EXPECT_EQ(0, err(ioctl(fd, ACRN_IOCTL_DESTROY_IOREQ_CLIENT, 0)));
	EXPECT_EQ(-ENODEV, err(ioctl(fd, ACRN_IOCTL_ATTACH_IOREQ_CLIENT, 0)));
	EXPECT_EQ(0, err(ioctl(fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	/* Left for DESTROY_VM to tear down. */
}

struct attacher {
	int fd;
	int ret;
	volatile int done;
};

static void *attach_thread(void *arg)
{
	struct attacher *a = arg;

	a->ret = err(ioctl(a->fd, ACRN_IOCTL_ATTACH_IOREQ_CLIENT, 0));
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static bool wait_done(struct attacher *a, int ms)
{
	struct timespec ts = { 0, 1000000 };

	while (ms-- > 0 && !__atomic_load_n(&a->done, __ATOMIC_ACQUIRE))
		nanosleep(&ts, NULL);
	return __atomic_load_n(&a->done, __ATOMIC_ACQUIRE);
}

/* ATTACH blocks while there is nothing to do; DESTROY_IOREQ_CLIENT releases it with ENODEV. */
TEST_F(ioreq, attach_blocks_until_destroy)
{
	struct attacher a = { .fd = self->vm.fd };
	pthread_t t;

	if (!hsm_is_ours())
		SKIP(return, "acrn.ko frees the client under its waiter (Documentation/hsm.rst)");
	ASSERT_EQ(0, err(ioctl(a.fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	ASSERT_EQ(0, pthread_create(&t, NULL, attach_thread, &a));
	EXPECT_FALSE(wait_done(&a, 200));
	EXPECT_EQ(0, err(ioctl(a.fd, ACRN_IOCTL_DESTROY_IOREQ_CLIENT, 0)));
	EXPECT_TRUE(wait_done(&a, 2000));
	pthread_join(t, NULL);
	EXPECT_EQ(-ENODEV, a.ret);
}

/* DESTROY_VM with a waiter releases it too (the VM's clients go with it). */
TEST_F(ioreq, attach_released_by_destroy_vm)
{
	struct attacher a = { .fd = self->vm.fd };
	pthread_t t;

	if (!hsm_is_ours())
		SKIP(return, "acrn.ko frees the client under its waiter (Documentation/hsm.rst)");
	ASSERT_EQ(0, err(ioctl(a.fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	ASSERT_EQ(0, pthread_create(&t, NULL, attach_thread, &a));
	EXPECT_FALSE(wait_done(&a, 100));
	EXPECT_EQ(0, err(ioctl(a.fd, ACRN_IOCTL_PAUSE_VM, 0)));
	EXPECT_EQ(0, err(ioctl(a.fd, ACRN_IOCTL_DESTROY_VM, 0)));
	self->vm.destroyed = true;
	EXPECT_TRUE(wait_done(&a, 2000));
	pthread_join(t, NULL);
	EXPECT_EQ(-ENODEV, a.ret);
}

TEST_F(ioreq, notify_validation)
{
	struct acrn_ioreq_notify n = { 0 };
	int fd = self->vm.fd;

	EXPECT_EQ(-EFAULT, err(ioctl(fd, ACRN_IOCTL_NOTIFY_REQUEST_FINISH, BAD_PTR)));
	n.reserved = 1;
	EXPECT_EQ(-EINVAL, err(ioctl(fd, ACRN_IOCTL_NOTIFY_REQUEST_FINISH, &n)));
	/* Without a default client there is nothing to complete. */
	n.reserved = 0;
	n.vcpu = 0xffff;
	EXPECT_EQ(0, err(ioctl(fd, ACRN_IOCTL_NOTIFY_REQUEST_FINISH, &n)));
	ASSERT_EQ(0, err(ioctl(fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	n.vcpu = self->vm.cv.vcpu_num;
	EXPECT_EQ(-EINVAL, err(ioctl(fd, ACRN_IOCTL_NOTIFY_REQUEST_FINISH, &n)));
	n.vcpu = 0xffff;
	EXPECT_EQ(-EINVAL, err(ioctl(fd, ACRN_IOCTL_NOTIFY_REQUEST_FINISH, &n)));
	/* The state of the page is untouched by refused calls. */
	EXPECT_EQ(ACRN_IOREQ_STATE_FREE, hsm_slot_state(&self->vm, 0));
}

TEST_F(ioreq, clear_without_requests)
{
	int fd = self->vm.fd;

	EXPECT_EQ(0, err(ioctl(fd, ACRN_IOCTL_CLEAR_VM_IOREQ, 0)));
	ASSERT_EQ(0, err(ioctl(fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	EXPECT_EQ(0, err(ioctl(fd, ACRN_IOCTL_CLEAR_VM_IOREQ, 0)));
	EXPECT_EQ(ACRN_IOREQ_STATE_FREE, hsm_slot_state(&self->vm, 0));
}

/* A port access nobody in the kernel claims goes to the device model. */
TEST_F(ioreq, dispatch_to_default_client)
{
	struct acrn_ioreq_notify n = { 0 };
	struct hsm_vm *vm = &self->vm;
	struct acrn_io_request *req = hsm_slot(vm, 0);

	ASSERT_EQ(0, err(ioctl(vm->fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_READ, 0x1234, 1, 0);
	ASSERT_EQ(0, hsm_kick());
	ASSERT_EQ(ACRN_IOREQ_STATE_PROCESSING, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(0u, req->kernel_handled);
	EXPECT_EQ(ACRN_IOREQ_TYPE_PORTIO, req->type);
	EXPECT_EQ(0x1234u, req->reqs.pio_request.address);
	/* The request is waiting: ATTACH returns at once. */
	EXPECT_EQ(0, err(ioctl(vm->fd, ACRN_IOCTL_ATTACH_IOREQ_CLIENT, 0)));
	req->reqs.pio_request.value = 0x5a;
	ioctl(vm->fd, ACRN_IOCTL_NOTIFY_REQUEST_FINISH, &n);
	EXPECT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_slot_state(vm, 0));
	EXPECT_EQ(0x5au, req->reqs.pio_request.value);
}

/* An MMIO request the same way; several vCPUs' slots in one scan if the VM has them. */
TEST_F(ioreq, dispatch_mmio_all_slots)
{
	struct acrn_ioreq_notify n = { 0 };
	struct hsm_vm *vm = &self->vm;
	unsigned int v, nr = vm->cv.vcpu_num;

	ASSERT_EQ(0, err(ioctl(vm->fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	for (v = 0; v < nr; v++)
		hsm_post_mmio(vm, v, ACRN_IOREQ_DIR_WRITE, 0xe0000000 + v * 8, 8, v);
	ASSERT_EQ(0, hsm_kick());
	for (v = 0; v < nr; v++) {
		EXPECT_EQ(ACRN_IOREQ_STATE_PROCESSING, hsm_wait_dispatched(vm, v));
		EXPECT_EQ(ACRN_IOREQ_TYPE_MMIO, hsm_slot(vm, v)->type);
	}
	for (v = 0; v < nr; v++) {
		n.vcpu = v;
		ioctl(vm->fd, ACRN_IOCTL_NOTIFY_REQUEST_FINISH, &n);
		EXPECT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_slot_state(vm, v));
	}
}

/* 0xCF8 is answered by the HSM; an enabled 0xCFC access becomes a PCICFG request. */
TEST_F(ioreq, pci_cf8_cfc)
{
	struct acrn_ioreq_notify n = { 0 };
	struct hsm_vm *vm = &self->vm;
	struct acrn_io_request *req = hsm_slot(vm, 0);
	/* Enable, bus 1, device 2, function 3, register 0x10, extended register 0x100. */
	__u32 addr = 0x80000000u | (1u << 24) | (1 << 16) | (2 << 11) | (3 << 8) | 0x10;

	ASSERT_EQ(0, err(ioctl(vm->fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_WRITE, 0xcf8, 4, addr);
	ASSERT_EQ(0, hsm_kick());
	EXPECT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_wait_dispatched(vm, 0));

	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_READ, 0xcf8, 4, 0);
	ASSERT_EQ(0, hsm_kick());
	EXPECT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(addr, req->reqs.pio_request.value);

	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_READ, 0xcfe, 2, 0);
	ASSERT_EQ(0, hsm_kick());
	ASSERT_EQ(ACRN_IOREQ_STATE_PROCESSING, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(ACRN_IOREQ_TYPE_PCICFG, req->type);
	EXPECT_EQ(0u, req->kernel_handled);
	EXPECT_EQ(ACRN_IOREQ_DIR_READ, req->reqs.pci_request.direction);
	EXPECT_EQ(2u, req->reqs.pci_request.size);
	EXPECT_EQ(1u, req->reqs.pci_request.bus);
	EXPECT_EQ(2u, req->reqs.pci_request.dev);
	EXPECT_EQ(3u, req->reqs.pci_request.func);
	EXPECT_EQ(0x112u, req->reqs.pci_request.reg);
	req->reqs.pci_request.value = 0xbeef;
	ioctl(vm->fd, ACRN_IOCTL_NOTIFY_REQUEST_FINISH, &n);
	EXPECT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_slot_state(vm, 0));

	/* With the enable bit clear, data reads are all ones, answered by the HSM. */
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_WRITE, 0xcf8, 4, 0);
	ASSERT_EQ(0, hsm_kick());
	EXPECT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_wait_dispatched(vm, 0));
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_READ, 0xcfc, 4, 0);
	ASSERT_EQ(0, hsm_kick());
	EXPECT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(0xffffffffu, req->reqs.pio_request.value);
	EXPECT_EQ(ACRN_IOREQ_TYPE_PORTIO, req->type);
}

/* CLEAR_VM_IOREQ completes what the device model holds. */
TEST_F(ioreq, clear_completes_held_requests)
{
	struct hsm_vm *vm = &self->vm;

	ASSERT_EQ(0, err(ioctl(vm->fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_WRITE, 0x80, 1, 1);
	ASSERT_EQ(0, hsm_kick());
	ASSERT_EQ(ACRN_IOREQ_STATE_PROCESSING, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(0, err(ioctl(vm->fd, ACRN_IOCTL_CLEAR_VM_IOREQ, 0)));
	EXPECT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_slot_state(vm, 0));
}

/* A request with no client at all stays PENDING (nobody to give it to) and is not lost. */
TEST_F(ioreq, no_client_keeps_request)
{
	struct hsm_vm *vm = &self->vm;

	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_WRITE, 0x80, 1, 1);
	ASSERT_EQ(0, hsm_kick());
	usleep(100000);
	EXPECT_EQ(ACRN_IOREQ_STATE_PENDING, hsm_slot_state(vm, 0));
	ASSERT_EQ(0, err(ioctl(vm->fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	ASSERT_EQ(0, hsm_kick());
	EXPECT_EQ(ACRN_IOREQ_STATE_PROCESSING, hsm_wait_dispatched(vm, 0));
}

TEST_HARNESS_MAIN
