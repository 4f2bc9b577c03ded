// SPDX-License-Identifier: GPL-2.0
/*
 * HSM throughput, ours (acrn_hsm.ko) against Linux's C acrn.ko, under the acrn-rs hypervisor,
 * same boot, same guest, same device model (selftests/hypervisor/test_dm.h):
 *
 *   hsm_ioreq_round_trips_per_s   a real-mode guest loops on `out %al, %dx`; each write is
 *                                 an IOREQ: upcall, dispatch to the DM's default client,
 *                                 ATTACH_IOREQ_CLIENT returns, NOTIFY_REQUEST_FINISH, resume
 *   hsm_ioeventfd_kicks_per_s     the same loop on a port with an ioeventfd: the HSM signals
 *                                 the eventfd and completes the request in the kernel
 *
 * Each figure is the median of RUNS runs of SECONDS, alternating between the modules in ABBA
 * order (each first in every other pair). Output, one line per figure:
 *   bench <name> ours=<value> ref=<value> ratio=<ours/ref>
 *
 * Not a test: run by `make bench` (scripts/bench.sh) in its hypervisor boot, on a kernel
 * without debug options. Elsewhere it prints why it can not run and exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#include "acrn_rs_kmod.h"
#include "selftests/hypervisor/acrn_hv.h"
#include "selftests/hypervisor/test_dm.h"

#define RUNS		5
#define SECONDS		2
#define RAM_LEN		0x10000ul
#define CODE_GPA	0x1000ul
#define PORT_DM		0x1230
#define PORT_KICK	0x1238

/* Real mode: mov $port, %dx; 1: out %al, %dx; jmp 1b */
static void guest(struct tdm_vm *vm, __u16 port)
{
	__u8 code[] = { 0xba, port & 0xff, port >> 8, 0xee, 0xeb, 0xfd };

	tdm_load(vm, CODE_GPA, code, sizeof(code));
}

struct count {
	long deadline_ms;
};

/* Serves every write; says "done" once the run's time is up (the count is vm->served). */
static int handler(struct tdm_vm *vm, struct tdm_req *q, void *arg)
{
	struct count *c = arg;

	(void)vm;
	(void)q;
	return tdm_now_ms() >= c->deadline_ms;
}

static int use_module(const char *m)
{
	const char *other = strcmp(m, "acrn") ? "acrn" : "acrn_hsm";

	if (kmod_loaded(other) && kmod_unload(other))
		return -1;
	return kmod_ensure_loaded(m);
}

static int vm_setup(struct tdm_vm *vm, const char *m, __u16 port)
{
	if (use_module(m) || tdm_create(vm, "hsm-bench", 0) || tdm_map_ram(vm, RAM_LEN))
		return -1;
	guest(vm, port);
	return tdm_regs_real(vm, CODE_GPA);
}

/* IOREQ round trips per second through the DM with module @m. */
static double ioreq_run(const char *m)
{
	struct count c;
	struct tdm_vm vm;
	long t0, served;
	double s;

	if (vm_setup(&vm, m, PORT_DM)) {
		fprintf(stderr, "hsm_bench: %s: VM setup failed: %s\n", m, strerror(errno));
		exit(1);
	}
	t0 = tdm_now_ms();
	c.deadline_ms = t0 + SECONDS * 1000;
	if (tdm_run(&vm, handler, &c, SECONDS * 1000 + 30000)) {
		fprintf(stderr, "hsm_bench: %s: the guest did not run\n", m);
		exit(1);
	}
	served = vm.served;
	s = (tdm_now_ms() - t0) / 1000.0;
	tdm_destroy(&vm);
	return served / s;
}

/* Guest writes per second completed in the kernel by an ioeventfd, with module @m. */
static double kick_run(const char *m)
{
	struct acrn_ioeventfd io = {
		.flags = ACRN_IOEVENTFD_FLAG_PIO,
		.addr = PORT_KICK,
		.len = 1,
	};
	struct count c = { .deadline_ms = 0 };
	struct tdm_vm vm;
	uint64_t kicks = 0;
	long t0;
	int efd;

	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0 || vm_setup(&vm, m, PORT_KICK)) {
		fprintf(stderr, "hsm_bench: %s: VM setup failed: %s\n", m, strerror(errno));
		exit(1);
	}
	io.fd = efd;
	if (ioctl(vm.fd, ACRN_IOCTL_IOEVENTFD, &io)) {
		fprintf(stderr, "hsm_bench: %s: IOEVENTFD: %s\n", m, strerror(errno));
		exit(1);
	}
	/* The DM serves nothing here (tdm_run just starts the VM and times out). */
	t0 = tdm_now_ms();
	tdm_run(&vm, handler, &c, SECONDS * 1000);
	if (read(efd, &kicks, sizeof(kicks)) != sizeof(kicks))
		kicks = 0;
	t0 = tdm_now_ms() - t0;
	tdm_destroy(&vm);
	close(efd);
	if (!kicks || vm.served) {
		fprintf(stderr, "hsm_bench: %s: %llu kicks, %ld requests reached the DM\n", m,
			(unsigned long long)kicks, vm.served);
		exit(1);
	}
	return kicks / (t0 / 1000.0);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void figure(const char *name, double (*run)(const char *))
{
	double ours[RUNS], ref[RUNS];

	/* ABBA order: each module runs first in every other pair (no order effect). */
	for (int i = 0; i < RUNS; i++) {
		if (i % 2 == 0) {
			ours[i] = run("acrn_hsm");
			ref[i] = run("acrn");
		} else {
			ref[i] = run("acrn");
			ours[i] = run("acrn_hsm");
		}
	}
	qsort(ours, RUNS, sizeof(double), cmp);
	qsort(ref, RUNS, sizeof(double), cmp);
	printf("bench %s ours=%.0f ref=%.0f ratio=%.2f\n", name, ours[RUNS / 2], ref[RUNS / 2],
	       ours[RUNS / 2] / ref[RUNS / 2]);
	fflush(stdout);
}

int main(void)
{
	if (!is_acrn_rs()) {
		fprintf(stderr, "hsm_bench: not on the acrn-rs hypervisor, nothing to measure\n");
		return 0;
	}
	/* Warm up both paths once. */
	ioreq_run("acrn_hsm");
	ioreq_run("acrn");
	figure("hsm_ioreq_round_trips_per_s", ioreq_run);
	figure("hsm_ioeventfd_kicks_per_s", kick_run);
	kmod_unload("acrn");
	return 0;
}
