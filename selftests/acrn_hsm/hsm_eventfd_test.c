// SPDX-License-Identifier: GPL-2.0
/*
 * ioeventfd and irqfd on /dev/acrn_hsm under the acrn-rs hypervisor, for the HSM that
 * $HSM_MODULE names: validation (bad pointers and descriptors, reserved field, lengths,
 * overflowing ranges, duplicates) and ioeventfd matching on requests the test posts into the
 * request page itself (see hsm_vm.h).
 */
#include <poll.h>
#include <sys/eventfd.h>

#include "kselftest_harness.h"
#include "hsm_vm.h"

FIXTURE(efd) {
	struct hsm_vm vm;
	int efd, efd2;
};

FIXTURE_SETUP(efd)
{
	struct acrn_ioeventfd io = { 0 };
	struct acrn_irqfd irq = { 0 };
	int fd, ret;

	self->vm.fd = -1;
	self->efd = self->efd2 = -1;
	SKIP_UNLESS_ACRN_RS();
	if (getuid())
		SKIP(return, "needs root");
	ret = hsm_load();
	ASSERT_EQ(0, ret) TH_LOG("%s.ko: %s", hsm_module(), strerror(-ret));
	self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	self->efd2 = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, self->efd);
	ASSERT_LE(0, self->efd2);
	/* Before CREATE_VM both are refused like any other command. */
	fd = open(HSM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	io.fd = self->efd;
	io.len = 4;
	irq.fd = self->efd;
	EXPECT_EQ(-EINVAL, err(ioctl(fd, ACRN_IOCTL_IOEVENTFD, &io)));
	EXPECT_EQ(-EINVAL, err(ioctl(fd, ACRN_IOCTL_IRQFD, &irq)));
	close(fd);
	ASSERT_EQ(0, hsm_vm_create(&self->vm, "hsm-efd"));
}

FIXTURE_TEARDOWN(efd)
{
	struct hv_counters h;

	if (self->efd >= 0)
		close(self->efd);
	if (self->efd2 >= 0)
		close(self->efd2);
	if (self->vm.fd < 0)
		return;
	EXPECT_EQ(0, hsm_vm_destroy(&self->vm));
	hv_counters(&h);
	EXPECT_EQ(0u, h.vms);
	kmod_unload(hsm_module());
}

static int ioeventfd(struct hsm_vm *vm, int fd, __u32 flags, __u64 addr, __u32 len, __u64 data)
{
	struct acrn_ioeventfd io = {
		.fd = fd, .flags = flags, .addr = addr, .len = len, .data = data,
	};

	return err(ioctl(vm->fd, ACRN_IOCTL_IOEVENTFD, &io));
}

/* The eventfd's counter (reading resets it); 0 if it was not signalled. */
static __u64 efd_count(int efd)
{
	__u64 v = 0;

	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

TEST_F(efd, ioeventfd_validation)
{
	struct acrn_ioeventfd io = { .fd = self->efd, .len = 4, .addr = 0x1000 };
	struct hsm_vm *vm = &self->vm;
	__u32 pio = ACRN_IOEVENTFD_FLAG_PIO, dm = ACRN_IOEVENTFD_FLAG_DATAMATCH;

	EXPECT_EQ(-EFAULT, err(ioctl(vm->fd, ACRN_IOCTL_IOEVENTFD, BAD_PTR)));
	io.reserved = 1;
	EXPECT_EQ(-EINVAL, err(ioctl(vm->fd, ACRN_IOCTL_IOEVENTFD, &io)));
	/* Lengths 1, 2, 4, 8 only; no range that wraps around. */
	EXPECT_EQ(-EINVAL, ioeventfd(vm, self->efd, pio, 0x1000, 0, 0));
	EXPECT_EQ(-EINVAL, ioeventfd(vm, self->efd, pio, 0x1000, 3, 0));
	EXPECT_EQ(-EINVAL, ioeventfd(vm, self->efd, pio, 0x1000, 16, 0));
	EXPECT_EQ(-EINVAL, ioeventfd(vm, self->efd, 0, ~0ull - 1, 4, 0));
	/* Not a descriptor; not an eventfd. */
	EXPECT_EQ(-EBADF, ioeventfd(vm, -1, pio, 0x1000, 4, 0));
	EXPECT_EQ(-EINVAL, ioeventfd(vm, vm->fd, pio, 0x1000, 4, 0));

	EXPECT_EQ(0, ioeventfd(vm, self->efd, pio | dm, 0x1000, 2, 1));
	/* Same eventfd, address, type and data: a duplicate; a wildcard overlaps any data. */
	EXPECT_EQ(-EEXIST, ioeventfd(vm, self->efd, pio | dm, 0x1000, 2, 1));
	EXPECT_EQ(-EEXIST, ioeventfd(vm, self->efd, pio, 0x1000, 2, 0));
	/* Other data, other type, other eventfd: fine. */
	EXPECT_EQ(0, ioeventfd(vm, self->efd, pio | dm, 0x1000, 2, 2));
	EXPECT_EQ(0, ioeventfd(vm, self->efd, 0, 0x1000, 2, 0));
	EXPECT_EQ(0, ioeventfd(vm, self->efd2, pio | dm, 0x1000, 2, 1));
	/* Deassign removes one entry of the eventfd at a time; unknown eventfds are fine. */
	EXPECT_EQ(0, ioeventfd(vm, self->efd2, ACRN_IOEVENTFD_FLAG_DEASSIGN, 0, 0, 0));
	EXPECT_EQ(0, ioeventfd(vm, self->efd2, ACRN_IOEVENTFD_FLAG_DEASSIGN, 0, 0, 0));
	EXPECT_EQ(-EBADF, ioeventfd(vm, -1, ACRN_IOEVENTFD_FLAG_DEASSIGN, 0, 0, 0));
	EXPECT_EQ(0, ioeventfd(vm, self->efd2, pio | dm, 0x1000, 2, 1));
	/* Left registered for DESTROY_VM to drop. */
}

/* A guest write to a registered port signals the eventfd, completed in the kernel. */
TEST_F(efd, ioeventfd_pio_datamatch)
{
	struct hsm_vm *vm = &self->vm;
	struct acrn_io_request *req = hsm_slot(vm, 0);

	ASSERT_EQ(0, ioeventfd(vm, self->efd,
			       ACRN_IOEVENTFD_FLAG_PIO | ACRN_IOEVENTFD_FLAG_DATAMATCH, 0x5000, 2,
			       7));
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_WRITE, 0x5000, 2, 7);
	ASSERT_EQ(0, hsm_kick());
	EXPECT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(1u, req->kernel_handled);
	EXPECT_EQ(1u, efd_count(self->efd));

	/* Other data: claimed by the range, completed, but no signal. */
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_WRITE, 0x5000, 2, 8);
	ASSERT_EQ(0, hsm_kick());
	EXPECT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(1u, req->kernel_handled);
	EXPECT_EQ(0u, efd_count(self->efd));

	/* Reads give 0. */
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_READ, 0x5000, 2, 0x1234);
	ASSERT_EQ(0, hsm_kick());
	EXPECT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(0u, req->reqs.pio_request.value);
	EXPECT_EQ(0u, efd_count(self->efd));

	/* After DEASSIGN the port goes to the device model again (none here: stays PENDING). */
	ASSERT_EQ(0, ioeventfd(vm, self->efd, ACRN_IOEVENTFD_FLAG_DEASSIGN, 0, 0, 0));
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_WRITE, 0x5000, 2, 7);
	ASSERT_EQ(0, hsm_kick());
	usleep(100000);
	EXPECT_EQ(ACRN_IOREQ_STATE_PENDING, hsm_slot_state(vm, 0));
	EXPECT_EQ(0u, efd_count(self->efd));
}

/* MMIO without DATAMATCH: any value written at the exact address signals. */
TEST_F(efd, ioeventfd_mmio_wildcard)
{
	struct hsm_vm *vm = &self->vm;

	ASSERT_EQ(0, err(ioctl(vm->fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	ASSERT_EQ(0, ioeventfd(vm, self->efd, 0, 0xd0003000, 4, 0));
	hsm_post_mmio(vm, 0, ACRN_IOREQ_DIR_WRITE, 0xd0003000, 4, 0xabcd);
	ASSERT_EQ(0, hsm_kick());
	EXPECT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(1u, efd_count(self->efd));
	/* Outside the range: the device model's. */
	hsm_post_mmio(vm, 0, ACRN_IOREQ_DIR_WRITE, 0xd0003004, 4, 1);
	ASSERT_EQ(0, hsm_kick());
	EXPECT_EQ(ACRN_IOREQ_STATE_PROCESSING, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(0u, hsm_slot(vm, 0)->kernel_handled);
	EXPECT_EQ(0u, efd_count(self->efd));
	/* A PIO access at the same number is another address space. */
	EXPECT_EQ(0, err(ioctl(vm->fd, ACRN_IOCTL_CLEAR_VM_IOREQ, 0)));
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_WRITE, 0xd0003000, 4, 1);
	ASSERT_EQ(0, hsm_kick());
	EXPECT_EQ(ACRN_IOREQ_STATE_PROCESSING, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(0u, efd_count(self->efd));
}

static int irqfd(struct hsm_vm *vm, int fd, __u32 flags)
{
	struct acrn_irqfd irq = {
		.fd = fd, .flags = flags, .msi = { .msi_addr = 0xfee00000, .msi_data = 0x30 },
	};

	return err(ioctl(vm->fd, ACRN_IOCTL_IRQFD, &irq));
}

TEST_F(efd, irqfd_validation)
{
	struct hsm_vm *vm = &self->vm;
	__u64 one = 1;

	EXPECT_EQ(-EFAULT, err(ioctl(vm->fd, ACRN_IOCTL_IRQFD, BAD_PTR)));
	EXPECT_EQ(-EBADF, irqfd(vm, -1, 0));
	EXPECT_EQ(-EINVAL, irqfd(vm, vm->fd, 0));
	EXPECT_EQ(0, irqfd(vm, self->efd, 0));
	EXPECT_EQ(-EBUSY, irqfd(vm, self->efd, 0));
	EXPECT_EQ(0, irqfd(vm, self->efd2, 0));
	/* Signalling injects (the hypervisor's verdict on the MSI is not reported). */
	EXPECT_EQ(8, write(self->efd, &one, sizeof(one)));
	EXPECT_EQ(0, irqfd(vm, self->efd, ACRN_IRQFD_FLAG_DEASSIGN));
	EXPECT_EQ(0, irqfd(vm, self->efd, ACRN_IRQFD_FLAG_DEASSIGN));
	EXPECT_EQ(-EBADF, irqfd(vm, -1, ACRN_IRQFD_FLAG_DEASSIGN));
	/* Re-assign after deassign; an eventfd already signalled injects at once. */
	EXPECT_EQ(0, irqfd(vm, self->efd, 0));
	/* Closing the eventfd tears its irqfd down (EPOLLHUP); a new eventfd may take its place. */
	close(self->efd);
	self->efd = -1;
	usleep(50000);
	self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, self->efd);
	EXPECT_EQ(0, irqfd(vm, self->efd, 0));
	/* efd2 stays assigned for DESTROY_VM to drop. */
}

TEST_HARNESS_MAIN
