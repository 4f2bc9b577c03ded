/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tiny device model for tests, on /dev/acrn_hsm (uapi/linux/acrn.h), doing what acrn-dm
 * does (ACRN devicemodel/core/vmmapi.c, main.c vm_loop) and no more:
 *
 *   tdm_create()      open /dev/acrn_hsm, CREATE_VM with a 4 KiB I/O request page
 *   tdm_map_ram()     anonymous memory as guest RAM at GPA 0 (SET_MEMSEG, ACRN_MEMMAP_RAM)
 *   tdm_load()        copy guest code or data into that RAM
 *   tdm_regs_*()      SET_VCPU_REGS for vCPU 0 in real mode, 32-bit protected mode (flat,
 *                     paging off) or 64-bit long mode (identity page tables for the first
 *                     2 MiB and a GDT, built in guest RAM at TDM_PML4.. TDM_GDT)
 *   tdm_run()         CREATE_IOREQ_CLIENT, a serving thread (ATTACH_IOREQ_CLIENT, scan the
 *                     slots for PROCESSING requests not handled by the kernel, call the
 *                     test's handler, NOTIFY_REQUEST_FINISH), START_VM; waits until the
 *                     handler says "done" or the timeout expires
 *   tdm_destroy()     PAUSE_VM, end the thread, DESTROY_IOREQ_CLIENT, DESTROY_VM, close
 *
 * The serving thread is ended by signals (SIGUSR1, no SA_RESTART: ATTACH_IOREQ_CLIENT
 * returns -EINTR), never by DESTROY_IOREQ_CLIENT while it waits: the upstream C HSM frees
 * the client under a waiter in acrn_ioreq_client_wait() (KASAN: slab-use-after-free), a
 * race acrn-dm's own shutdown (DESTROY_IOREQ_CLIENT, then join) can hit too.
 *
 * The serving thread lives until tdm_stop_serving() / tdm_destroy(), across several
 * tdm_run() calls (e.g. around RESET_VM); vm->done only tells the waiting test thread.
 * The handler sees each request as a struct tdm_req; for a read it sets ->value, which the
 * serving thread stores into the slot before NOTIFY_REQUEST_FINISH. Every request is also
 * appended to vm->log (at most TDM_LOG_MAX), so a test can compare the whole sequence.
 * Plain C and pthreads, no kselftest dependency, for reuse by other suites.
 */
#ifndef TEST_DM_H
#define TEST_DM_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>

#include "linux/acrn.h"

#define TDM_DEV		"/dev/acrn_hsm"
#define TDM_PAGE	4096ul
#define TDM_LOG_MAX	256
/* Guest RAM layout used by tdm_regs_long64() (inside the first 64 KiB). */
#define TDM_PML4	0x2000ul
#define TDM_PDPT	0x3000ul
#define TDM_PD		0x4000ul
#define TDM_GDT		0x5000ul
#define TDM_STACK_TOP	0x8000ul

struct tdm_req {
	__u32 type;		/* ACRN_IOREQ_TYPE_PORTIO / _MMIO / _PCICFG */
	__u32 dir;		/* ACRN_IOREQ_DIR_READ / _WRITE */
	__u64 addr;		/* port, guest physical address, or for PCICFG
				 * bus << 16 | dev << 11 | func << 8 | reg */
	__u64 size;		/* 1, 2, 4 or 8 bytes */
	__u64 value;		/* written value; the handler sets it for reads */
};

struct tdm_vm;
/* Returns 0 to go on, 1 when the test is done (the request is still completed). */
typedef int (*tdm_handler)(struct tdm_vm *vm, struct tdm_req *req, void *ctx);

struct tdm_vm {
	int fd;
	__u16 vmid;
	__u16 vcpu_num;
	struct acrn_io_request *io;	/* the shared I/O request page */
	__u8 *ram;
	size_t ram_len;
	/* Serving. */
	pthread_t thread;
	bool thread_started;
	bool client;
	volatile int done;
	volatile int quit;		/* asks the serving thread to end */
	volatile int exited;		/* the serving thread has ended */
	int err;			/* errno that ended the serving thread, 0 if none */
	tdm_handler handler;
	void *ctx;
	struct tdm_req log[TDM_LOG_MAX];
	volatile int nlog;
	volatile long served;		/* requests completed, all of them */
};

/* Opens the HSM and creates a VM named @name with @flags (GUEST_FLAG_*); 0 or -errno. */
static inline int tdm_create(struct tdm_vm *vm, const char *name, __u64 flags)
{
	struct acrn_vm_creation cv = { 0 };

	memset(vm, 0, sizeof(*vm));
	vm->fd = open(TDM_DEV, O_RDWR | O_CLOEXEC);
	if (vm->fd < 0)
		return -errno;
	vm->io = mmap(NULL, TDM_PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (vm->io == MAP_FAILED) {
		vm->io = NULL;
		return -errno;
	}
	snprintf((char *)cv.uuid, sizeof(cv.uuid), "%s", name);
	cv.vm_flag = flags;
	cv.ioreq_buf = (__u64)(unsigned long)vm->io;
	if (ioctl(vm->fd, ACRN_IOCTL_CREATE_VM, &cv))
		return -errno;
	vm->vmid = cv.vmid;
	vm->vcpu_num = cv.vcpu_num;
	return 0;
}

/* @len bytes of RAM at GPA 0; 0 or -errno. */
static inline int tdm_map_ram(struct tdm_vm *vm, size_t len)
{
	struct acrn_vm_memmap m = {
		.type = ACRN_MEMMAP_RAM,
		.attr = ACRN_MEM_ACCESS_RWX,
		.user_vm_pa = 0,
		.len = len,
	};

	vm->ram = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		return -errno;
	}
	vm->ram_len = len;
	m.vma_base = (__u64)(unsigned long)vm->ram;
	return ioctl(vm->fd, ACRN_IOCTL_SET_MEMSEG, &m) ? -errno : 0;
}

/* Copies @len bytes to guest physical @gpa (inside the RAM); 0 or -EINVAL. */
static inline int tdm_load(struct tdm_vm *vm, __u64 gpa, const void *src, size_t len)
{
	if (!vm->ram || gpa > vm->ram_len || len > vm->ram_len - gpa)
		return -EINVAL;
	memcpy(vm->ram + gpa, src, len);
	return 0;
}

static inline int tdm_set_regs(struct tdm_vm *vm, struct acrn_regs *r)
{
	struct acrn_vcpu_regs v = { .vcpu_id = 0, .vcpu_regs = *r };

	return ioctl(vm->fd, ACRN_IOCTL_SET_VCPU_REGS, &v) ? -errno : 0;
}

/* Real mode, CS = DS = ES = SS = 0, IP = @ip, SP = TDM_STACK_TOP. */
static inline int tdm_regs_real(struct tdm_vm *vm, __u64 ip)
{
	struct acrn_regs r = { 0 };

	r.rip = ip;
	r.cs_ar = 0x9b;
	r.cs_limit = 0xffff;
	r.cr0 = 0x10;			/* ET */
	r.rflags = 0x2;
	r.gprs.rsp = TDM_STACK_TOP;
	r.gdt.limit = 0xffff;
	r.idt.limit = 0x3ff;		/* the real-mode IVT at 0 */
	return tdm_set_regs(vm, &r);
}

static inline void tdm_gdt(struct tdm_vm *vm)
{
	static const __u64 gdt[] = {
		0,
		0x00cf9a000000ffffull,	/* 0x08: 32-bit code */
		0x00cf92000000ffffull,	/* 0x10: data */
		0x00af9a000000ffffull,	/* 0x18: 64-bit code */
	};

	tdm_load(vm, TDM_GDT, gdt, sizeof(gdt));
}

/* Fills @r for 32-bit protected mode, flat segments, paging off, EIP = @ip (the caller may
 * change more, e.g. an IDT, before tdm_set_regs()). */
static inline void tdm_init_prot32(struct tdm_vm *vm, struct acrn_regs *r, __u64 ip)
{
	memset(r, 0, sizeof(*r));
	tdm_gdt(vm);
	r->rip = ip;
	r->cs_sel = 0x08;
	r->cs_ar = 0xc09b;
	r->cs_limit = 0xffffffff;
	r->ss_sel = r->ds_sel = r->es_sel = r->fs_sel = r->gs_sel = 0x10;
	r->cr0 = 0x11;			/* PE | ET */
	r->rflags = 0x2;
	r->gprs.rsp = TDM_STACK_TOP;
	r->gdt.base = TDM_GDT;
	r->gdt.limit = 31;
}

/* 32-bit protected mode, flat segments, paging off, EIP = @ip. */
static inline int tdm_regs_prot32(struct tdm_vm *vm, __u64 ip)
{
	struct acrn_regs r;

	tdm_init_prot32(vm, &r, ip);
	return tdm_set_regs(vm, &r);
}

/* A 32-bit interrupt gate for @vector to @handler (CS 0x08) in the IDT at @idt. */
static inline int tdm_idt32_gate(struct tdm_vm *vm, __u64 idt, int vector, __u32 handler)
{
	__u32 gate[2] = {
		(0x08 << 16) | (handler & 0xffff),
		(handler & 0xffff0000) | 0x8e00,
	};

	return tdm_load(vm, idt + 8 * vector, gate, sizeof(gate));
}

/* SET_IRQLINE: @op (0 high, 1 low, 2 raising pulse, 3 falling pulse) on @gsi; 0 or -errno. */
static inline int tdm_set_irqline(struct tdm_vm *vm, __u32 gsi, __u32 op)
{
	return ioctl(vm->fd, ACRN_IOCTL_SET_IRQLINE, (__u64)gsi | (__u64)op << 32) ? -errno : 0;
}

/* 64-bit long mode, the first 2 MiB identity-mapped (one 2 MiB page), RIP = @ip. */
static inline int tdm_regs_long64(struct tdm_vm *vm, __u64 ip)
{
	struct acrn_regs r = { 0 };
	__u64 pml4e = TDM_PDPT | 3, pdpte = TDM_PD | 3, pde = 0x83;

	tdm_gdt(vm);
	if (tdm_load(vm, TDM_PML4, &pml4e, 8) || tdm_load(vm, TDM_PDPT, &pdpte, 8) ||
	    tdm_load(vm, TDM_PD, &pde, 8))
		return -EINVAL;
	r.rip = ip;
	r.cs_sel = 0x18;
	r.cs_ar = 0xa09b;
	r.cs_limit = 0xffffffff;
	r.ss_sel = r.ds_sel = r.es_sel = r.fs_sel = r.gs_sel = 0x10;
	r.cr0 = 0x80000011;		/* PG | PE | ET */
	r.cr3 = TDM_PML4;
	r.cr4 = 0x20;			/* PAE */
	r.ia32_efer = 0x100;		/* LME */
	r.rflags = 0x2;
	r.gprs.rsp = TDM_STACK_TOP;
	r.gdt.base = TDM_GDT;
	r.gdt.limit = 31;
	return tdm_set_regs(vm, &r);
}

static inline void *tdm_serve(void *arg)
{
	struct tdm_vm *vm = arg;

	while (!vm->quit) {
		if (ioctl(vm->fd, ACRN_IOCTL_ATTACH_IOREQ_CLIENT, 0)) {
			if (errno == EINTR)
				continue;
			if (errno != ENODEV)
				vm->err = errno;
			break;
		}
		for (int i = 0; i < vm->vcpu_num && i < ACRN_IO_REQUEST_MAX; i++) {
			struct acrn_io_request *s = &vm->io[i];
			struct acrn_ioreq_notify n = { .vmid = vm->vmid, .vcpu = i };
			struct tdm_req q = { 0 };
			int ret;

			if (__atomic_load_n(&s->processed, __ATOMIC_ACQUIRE) !=
			    ACRN_IOREQ_STATE_PROCESSING || s->kernel_handled)
				continue;
			q.type = s->type;
			if (q.type == ACRN_IOREQ_TYPE_MMIO) {
				q.dir = s->reqs.mmio_request.direction;
				q.addr = s->reqs.mmio_request.address;
				q.size = s->reqs.mmio_request.size;
				q.value = s->reqs.mmio_request.value;
			} else if (q.type == ACRN_IOREQ_TYPE_PCICFG) {
				struct acrn_pci_request *p = &s->reqs.pci_request;

				q.dir = p->direction;
				q.addr = p->bus << 16 | p->dev << 11 | p->func << 8 | p->reg;
				q.size = p->size;
				q.value = p->value;
			} else {
				q.dir = s->reqs.pio_request.direction;
				q.addr = s->reqs.pio_request.address;
				q.size = s->reqs.pio_request.size;
				q.value = s->reqs.pio_request.value;
			}
			if (q.dir == ACRN_IOREQ_DIR_READ)
				q.value = 0;
			ret = vm->handler(vm, &q, vm->ctx);
			if (q.dir == ACRN_IOREQ_DIR_READ) {
				if (q.type == ACRN_IOREQ_TYPE_MMIO)
					s->reqs.mmio_request.value = q.value;
				else
					s->reqs.pio_request.value = (__u32)q.value;
			}
			if (vm->nlog < TDM_LOG_MAX)
				vm->log[vm->nlog++] = q;
			vm->served++;
			if (ioctl(vm->fd, ACRN_IOCTL_NOTIFY_REQUEST_FINISH, &n))
				vm->err = errno;
			if (ret)
				vm->done = 1;
		}
	}
	vm->exited = 1;
	return NULL;
}

static inline void tdm_sigusr1(int sig)
{
	(void)sig;
}

static inline long tdm_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * Starts serving with @h and starts the VM; waits up to @timeout_ms for the handler to say
 * done. Returns 0 when done, -ETIMEDOUT, or -errno of a failing ioctl.
 */
static inline int tdm_run(struct tdm_vm *vm, tdm_handler h, void *ctx, int timeout_ms)
{
	long end;

	vm->handler = h;
	vm->ctx = ctx;
	if (!vm->client) {
		if (ioctl(vm->fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0))
			return -errno;
		vm->client = true;
	}
	if (!vm->thread_started) {
		struct sigaction sa = { .sa_handler = tdm_sigusr1 };

		sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
		if (pthread_create(&vm->thread, NULL, tdm_serve, vm))
			return -EAGAIN;
		vm->thread_started = true;
	}
	if (ioctl(vm->fd, ACRN_IOCTL_START_VM, 0))
		return -errno;
	for (end = tdm_now_ms() + timeout_ms; !vm->done && tdm_now_ms() < end;)
		usleep(1000);
	if (vm->err)
		return -vm->err;
	return vm->done ? 0 : -ETIMEDOUT;
}

/* Ends serving: signals interrupt ATTACH_IOREQ_CLIENT until the thread has seen ->quit;
 * then the client is destroyed with nobody waiting on it. */
static inline void tdm_stop_serving(struct tdm_vm *vm)
{
	vm->done = 1;
	vm->quit = 1;
	if (vm->thread_started) {
		while (!vm->exited) {
			pthread_kill(vm->thread, SIGUSR1);
			usleep(1000);
		}
		pthread_join(vm->thread, NULL);
		vm->thread_started = false;
	}
	if (vm->client) {
		ioctl(vm->fd, ACRN_IOCTL_DESTROY_IOREQ_CLIENT, 0);
		vm->client = false;
	}
}

/* PAUSE_VM, stop serving, DESTROY_VM, close, unmap; 0 or the first -errno. */
static inline int tdm_destroy(struct tdm_vm *vm)
{
	int ret = 0;

	if (vm->fd >= 0 && ioctl(vm->fd, ACRN_IOCTL_PAUSE_VM, 0))
		ret = -errno;
	tdm_stop_serving(vm);
	if (vm->fd >= 0 && ioctl(vm->fd, ACRN_IOCTL_DESTROY_VM, 0) && !ret)
		ret = -errno;
	if (vm->fd >= 0)
		close(vm->fd);
	vm->fd = -1;
	if (vm->ram)
		munmap(vm->ram, vm->ram_len);
	if (vm->io)
		munmap(vm->io, TDM_PAGE);
	vm->ram = NULL;
	vm->io = NULL;
	return ret;
}

/* INJECT_MSI with @addr / @data; 0 or -errno. */
static inline int tdm_inject_msi(struct tdm_vm *vm, __u64 addr, __u64 data)
{
	struct acrn_msi_entry m = { .msi_addr = addr, .msi_data = data };

	return ioctl(vm->fd, ACRN_IOCTL_INJECT_MSI, &m) ? -errno : 0;
}

#endif
