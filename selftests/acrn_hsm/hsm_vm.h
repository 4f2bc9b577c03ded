/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A VM on /dev/acrn_hsm for the acrn_hsm tests, for the HSM that $HSM_MODULE names (acrn_hsm:
 * ours, acrn: the C acrn.ko; acrn if unset), and a device model's view of its I/O request
 * page.
 *
 * Without a guest, a test plays the hypervisor's part: it writes a request into a slot of the
 * (user-mapped) request page and marks it PENDING, then makes the HSM scan the slots. Both HSMs
 * scan every VM when an I/O client is destroyed (upstream ioreq_resume() "in case other clients
 * miss interrupt"), so hsm_kick() creates and destroys a client on a second, scratch VM.
 */
#ifndef HSM_VM_H
#define HSM_VM_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>

#include "acrn_rs_kmod.h"
#include "pinned_pages.h"
#include "selftests/hypervisor/acrn_hv.h"
#include "linux/acrn.h"

#define HSM_DEV "/dev/acrn_hsm"
#define PAGE 4096ul
#define BAD_PTR ((void *)8)

static inline const char *hsm_module(void)
{
	const char *m = getenv("HSM_MODULE");

	return m && *m ? m : "acrn";
}

static inline const char *hsm_other_module(void)
{
	return strcmp(hsm_module(), "acrn") ? "acrn" : "acrn_hsm";
}

static inline bool hsm_is_ours(void)
{
	return strcmp(hsm_module(), "acrn") != 0;
}

/* 0 or -errno of an ioctl()-style return. */
static inline int err(int ret)
{
	return ret < 0 ? -errno : 0;
}

/* Loads the HSM under test (unloading the other one first); 0 or -errno. */
static inline int hsm_load(void)
{
	int ret;

	if (kmod_loaded(hsm_other_module())) {
		ret = kmod_unload(hsm_other_module());
		if (ret)
			return ret;
	}
	return kmod_ensure_loaded(hsm_module());
}

struct hsm_vm {
	int fd;
	/* DESTROY_VM done by the test itself: only close. */
	bool destroyed;
	struct acrn_io_request_buffer *ioreq;
	struct acrn_vm_creation cv;
};

/* Opens the device and creates a VM named @name; 0 or -errno (vm->fd < 0 if not open). */
static inline int hsm_vm_create(struct hsm_vm *vm, const char *name)
{
	memset(vm, 0, sizeof(*vm));
	vm->fd = open(HSM_DEV, O_RDWR | O_CLOEXEC);
	if (vm->fd < 0)
		return -errno;
	vm->ioreq = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->ioreq == MAP_FAILED) {
		vm->ioreq = NULL;
		return -ENOMEM;
	}
	memset(vm->ioreq, 0, PAGE);
	snprintf((char *)vm->cv.uuid, sizeof(vm->cv.uuid), "%s", name);
	vm->cv.ioreq_buf = (unsigned long)vm->ioreq;
	return err(ioctl(vm->fd, ACRN_IOCTL_CREATE_VM, &vm->cv));
}

/* Pauses, destroys and closes; 0 or the first -errno. */
static inline int hsm_vm_destroy(struct hsm_vm *vm)
{
	int ret = 0;

	if (vm->fd >= 0) {
		if (!vm->destroyed) {
			ioctl(vm->fd, ACRN_IOCTL_PAUSE_VM, 0);
			ret = err(ioctl(vm->fd, ACRN_IOCTL_DESTROY_VM, 0));
		}
		close(vm->fd);
		vm->fd = -1;
	}
	if (vm->ioreq)
		munmap(vm->ioreq, PAGE);
	vm->ioreq = NULL;
	return ret;
}

/* Makes the HSM scan every VM's slots (see the top of this file); 0 or -errno. */
static inline int hsm_kick(void)
{
	struct hsm_vm scratch;
	int ret;

	ret = hsm_vm_create(&scratch, "hsm-kick");
	if (!ret)
		ret = err(ioctl(scratch.fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0));
	if (!ret)
		ret = err(ioctl(scratch.fd, ACRN_IOCTL_DESTROY_IOREQ_CLIENT, 0));
	if (hsm_vm_destroy(&scratch) && !ret)
		ret = -EIO;
	return ret;
}

static inline struct acrn_io_request *hsm_slot(struct hsm_vm *vm, unsigned int vcpu)
{
	return &vm->ioreq->req_slot[vcpu];
}

static inline __u32 hsm_slot_state(struct hsm_vm *vm, unsigned int vcpu)
{
	return __atomic_load_n(&hsm_slot(vm, vcpu)->processed, __ATOMIC_ACQUIRE);
}

/* Plays the hypervisor: a PIO request in slot @vcpu, then PENDING (release). */
static inline void hsm_post_pio(struct hsm_vm *vm, unsigned int vcpu, __u32 dir, __u64 port,
				__u64 size, __u32 value)
{
	struct acrn_io_request *req = hsm_slot(vm, vcpu);

	memset(req, 0, sizeof(*req));
	req->type = ACRN_IOREQ_TYPE_PORTIO;
	req->reqs.pio_request.direction = dir;
	req->reqs.pio_request.address = port;
	req->reqs.pio_request.size = size;
	req->reqs.pio_request.value = value;
	__atomic_store_n(&req->processed, ACRN_IOREQ_STATE_PENDING, __ATOMIC_RELEASE);
}

/* The same for MMIO. */
static inline void hsm_post_mmio(struct hsm_vm *vm, unsigned int vcpu, __u32 dir, __u64 addr,
				 __u64 size, __u64 value)
{
	struct acrn_io_request *req = hsm_slot(vm, vcpu);

	memset(req, 0, sizeof(*req));
	req->type = ACRN_IOREQ_TYPE_MMIO;
	req->reqs.mmio_request.direction = dir;
	req->reqs.mmio_request.address = addr;
	req->reqs.mmio_request.size = size;
	req->reqs.mmio_request.value = value;
	__atomic_store_n(&req->processed, ACRN_IOREQ_STATE_PENDING, __ATOMIC_RELEASE);
}

/* Waits up to 2 s for slot @vcpu to leave PENDING; returns its state. */
static inline __u32 hsm_wait_dispatched(struct hsm_vm *vm, unsigned int vcpu)
{
	struct timespec ts = { 0, 1000000 };
	int i;

	for (i = 0; i < 2000; i++) {
		if (hsm_slot_state(vm, vcpu) != ACRN_IOREQ_STATE_PENDING)
			break;
		nanosleep(&ts, NULL);
	}
	return hsm_slot_state(vm, vcpu);
}

/* Marks slot @vcpu FREE again, as the hypervisor does after a completion. */
static inline void hsm_free_slot(struct hsm_vm *vm, unsigned int vcpu)
{
	__atomic_store_n(&hsm_slot(vm, vcpu)->processed, ACRN_IOREQ_STATE_FREE, __ATOMIC_RELEASE);
}


#endif
