// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-net transmit throughput, ours (/dev/vhost-net-rs) against Linux's C vhost_net
 * (/dev/vhost-net), same harness, same boot: the guest side keeps the TX ring full of
 * frames (one descriptor each, kicks only when the device asks for them) and counts
 * completions for a fixed time; the tap hands the frames to the network stack, which drops
 * them (unknown ethertype). With the ring full, the harness sleeps on the call eventfd, as a
 * guest driver with its TX interrupt on (only while it sleeps): a spinning harness would,
 * under `qemu-run.sh --icount`, leave the worker's vCPU only the turns of QEMU's round robin
 * (a timer tick each), which then set the rate instead of the device. The harness runs on
 * CPU 0 and the device's worker on CPU 1, for both modules. Runs alternate between the
 * modules, in ABBA order (each runs first in every other pair); each figure is the median of
 * RUNS runs. Output, one line per figure:
 *
 *   bench <name> ours=<value> ref=<value> ratio=<ours/ref>
 *
 * Not a test: run by `make bench` (scripts/bench.sh) on a kernel without debug options.
 * With BENCH_FILTER (bench_filter.h), only the figures whose name contains a part of it.
 * Comment lines ("# ", shown by `make bench PROFILE=1`) give each run: frames, kicks, waits.
 */
#include <dirent.h>
#include <string.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_filter.h"
#include "vhost_harness.h"

#define RUNS		5
#define SECONDS		2.0
#define TX_RING		256

struct dev {
	int fd;
	struct guest g;
	struct dvq q[2];
	struct tap tap;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dev_open(struct dev *d, const char *path)
{
	uint64_t features = 1ULL << VIRTIO_F_VERSION_1;

	memset(d, 0, sizeof(*d));
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0 || guest_init(&d->g))
		return -1;
	dvq_init(&d->q[VQ_RX], d->g.mem, TX_RING);
	dvq_init(&d->q[VQ_TX], d->g.mem + RING_AREA / 2, TX_RING);
	if (ioctl(d->fd, VHOST_SET_OWNER) || ioctl(d->fd, VHOST_SET_FEATURES, &features) ||
	    vhost_mem_table(d->fd, &d->g, GUEST_BASE, GUEST_SIZE) ||
	    vring_setup(d->fd, VQ_RX, &d->q[VQ_RX]) || vring_setup(d->fd, VQ_TX, &d->q[VQ_TX]) ||
	    tap_open(&d->tap) || set_backend(d->fd, VQ_TX, d->tap.fd))
		return -1;
	return 0;
}

static void dev_close(struct dev *d)
{
	close(d->fd);
	tap_close(&d->tap);
	dvq_close(&d->q[VQ_RX]);
	dvq_close(&d->q[VQ_TX]);
	munmap(d->g.mem, GUEST_SIZE);
}

/* Pins thread @tid to @cpu; returns whether it worked. */
static int pin(pid_t tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return !sched_setaffinity(tid, sizeof(set), &set);
}

/*
 * Pins the device's worker to CPU 1 and the harness to CPU 0, the same for both modules:
 * otherwise where the scheduler puts the worker (beside the harness or not) moves
 * a run's rate by a third either way. C vhost's worker is a thread of ours named
 * "vhost-<pid>"; ours a kernel thread named "vhost-rs-<pid>". Exits if it is not found.
 */
static void pin_threads(void)
{
	char want[2][32], path[300], comm[64];
	const char *dirs[] = { "/proc", "/proc/self/task" };
	int found = 0;

	snprintf(want[0], sizeof(want[0]), "vhost-%d\n", getpid());
	snprintf(want[1], sizeof(want[1]), "vhost-rs-%d\n", getpid());
	for (int i = 0; i < 2; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;

		while (d && (e = readdir(d))) {
			FILE *f;

			snprintf(path, sizeof(path), "%s/%s/comm", dirs[i], e->d_name);
			f = fopen(path, "r");
			if (!f)
				continue;
			if (fgets(comm, sizeof(comm), f) &&
			    (!strcmp(comm, want[0]) || !strcmp(comm, want[1])))
				found += pin(atoi(e->d_name), 1);
			fclose(f);
		}
		if (d)
			closedir(d);
	}
	if (!found || !pin(0, 0)) {
		fprintf(stderr, "could not pin the worker and the harness\n");
		exit(1);
	}
}

/* Transmits @flen-byte frames for SECONDS; returns frames per second. */
static double tx_run(const char *path, size_t flen)
{
	struct dev d;
	struct dvq *q;
	uint8_t frame[2048];
	long done = 0, kicks = 0, waits = 0;
	double t0, t1;

	if (dev_open(&d, path)) {
		fprintf(stderr, "%s: setup failed: %s\n", path, strerror(errno));
		exit(1);
	}
	pin_threads();
	q = &d.q[VQ_TX];
	q->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	/* One buffer per descriptor, set up once: descriptor i always holds frame buffer i. */
	make_frame(frame, flen, 1);
	for (unsigned int i = 0; i < q->num; i++) {
		uint8_t *buf = guest_alloc(&d.g, HDR_LEN + flen);

		memset(buf, 0, HDR_LEN);
		memcpy(buf + HDR_LEN, frame, flen);
		q->desc[i] = (struct vring_desc){ gpa_of(&d.g, buf), HDR_LEN + flen, 0, 0 };
	}
	t0 = now();
	t1 = t0;
	while (t1 - t0 < SECONDS) {
		uint16_t used = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
		int added = 0;

		done += (uint16_t)(used - q->last_used);
		q->last_used = used;
		while ((uint16_t)(q->avail_idx - q->last_used) < q->num) {
			q->avail->ring[q->avail_idx % q->num] = q->avail_idx % q->num;
			q->avail_idx++;
			added = 1;
		}
		if (added) {
			__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (!(__atomic_load_n(&q->used->flags, __ATOMIC_ACQUIRE) & VRING_USED_F_NO_NOTIFY)) {
				dvq_kick(q);
				kicks++;
			}
		} else {
			/* Ring full: interrupt on, check again, sleep until the device uses some. */
			q->avail->flags = 0;
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) == q->last_used) {
				efd_count(q->call, 100);
				waits++;
			}
			q->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
		}
		t1 = now();
	}
	dev_close(&d);
	printf("# %s %zu B: %ld frames, %ld kicks, %ld waits\n", path, flen, done, kicks, waits);
	return done / (t1 - t0);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void figure(const char *name, size_t flen, double scale)
{
	double ours[RUNS], ref[RUNS];

	if (!bench_chosen(name))
		return;
	/* ABBA order: each module runs first in every other pair (no order effect). */
	for (int i = 0; i < RUNS; i++) {
		if (i % 2 == 0) {
			ours[i] = tx_run("/dev/vhost-net-rs", flen) * scale;
			ref[i] = tx_run("/dev/vhost-net", flen) * scale;
		} else {
			ref[i] = tx_run("/dev/vhost-net", flen) * scale;
			ours[i] = tx_run("/dev/vhost-net-rs", flen) * scale;
		}
	}
	for (int i = 0; i < RUNS; i++)
		printf("# %s run %d: ours=%.0f ref=%.0f\n", name, i, ours[i], ref[i]);
	qsort(ours, RUNS, sizeof(double), cmp);
	qsort(ref, RUNS, sizeof(double), cmp);
	printf("bench %s ours=%.0f ref=%.0f ratio=%.2f\n", name, ours[RUNS / 2], ref[RUNS / 2],
	       ours[RUNS / 2] / ref[RUNS / 2]);
	fflush(stdout);
}

int main(void)
{
	if (system("modprobe vhost_net_rs") || system("modprobe vhost_net")) {
		fprintf(stderr, "modprobe failed\n");
		return 1;
	}
	/* Warm up both paths once. */
	tx_run("/dev/vhost-net-rs", 64);
	tx_run("/dev/vhost-net", 64);
	figure("vhost_net_tx_64B_packets_per_s", 64, 1);
	figure("vhost_net_tx_1500B_bytes_per_s", 1500, 1500);
	return 0;
}
