// SPDX-License-Identifier: GPL-2.0
/*
 * make bench: 4 KiB random reads and writes on /dev/ram0 (brd, O_DIRECT) at queue depth 1
 * and 64, through vhost-blk (this program is the guest driver: one 256-entry queue, one
 * descriptor per request through indirect tables, event idx: kicks only when the device
 * asks, an interrupt per batch of completions, waited for on the call eventfd) against the
 * same I/O issued directly with io_uring (raw syscalls, O_DIRECT, waiting for completions
 * in io_uring_enter). Prints "bench vhost_blk_4k_rand<rw>_qd<n>_iops ours=... ref=...
 * ratio=...": medians of RUNS runs of SECS seconds, alternating in ABBA order (each side
 * first in every other pair); then the same with a driver that polls the used ring instead
 * of sleeping ("_polled", same io_uring reference), and with the sleeping driver again, the
 * worker busy-polling for BUSYPOLL_US after its queue runs empty (module parameter poll_us;
 * "_busypoll"). With BENCH_FILTER (bench_filter.h), only the figures whose name contains a
 * part of it. "#" lines: how busy the device's worker, its helper thread and the driver were.
 */
#include <dirent.h>
#include <linux/io_uring.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>

#include "bench_filter.h"
#include "blk_harness.h"

#define RUNS	5
#define SECS	2.0
#define BS	4096
#define SPAN	(DISK_SIZE / BS)
#define RING	256
#define MAXQD	64
/* The worker's busy-poll window of the "_busypoll" figures (TCG runs ~10x slower than a CPU). */
#define BUSYPOLL_US	"200"
#define POLL_US		"/sys/module/" BLK_MODULE "/parameters/poll_us"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t rnd_state = 12345;

static uint64_t rnd_block(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % SPAN;
}

/* ---------------------------------------------------------------- io_uring reference */

struct uring {
	int fd;
	unsigned int *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int uring_init(struct uring *u, unsigned int entries)
{
	struct io_uring_params p = { 0 };
	void *sq, *cq;

	u->fd = syscall(__NR_io_uring_setup, entries, &p);
	if (u->fd < 0)
		return -1;
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * 4, PROT_READ | PROT_WRITE, MAP_SHARED,
		  u->fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED, u->fd, IORING_OFF_CQ_RING);
	u->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED, u->fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || u->sqes == MAP_FAILED)
		return -1;
	u->sq_tail = sq + p.sq_off.tail;
	u->sq_mask = sq + p.sq_off.ring_mask;
	u->sq_array = sq + p.sq_off.array;
	u->cq_head = cq + p.cq_off.head;
	u->cq_tail = cq + p.cq_off.tail;
	u->cq_mask = cq + p.cq_off.ring_mask;
	u->cqes = cq + p.cq_off.cqes;
	return 0;
}

static void uring_queue(struct uring *u, int disk, int write, void *buf, uint64_t tag)
{
	unsigned int tail = *u->sq_tail, idx = tail & *u->sq_mask;
	struct io_uring_sqe *sqe = &u->sqes[idx];

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = write ? IORING_OP_WRITE : IORING_OP_READ;
	sqe->fd = disk;
	sqe->addr = (uintptr_t)buf;
	sqe->len = BS;
	sqe->off = rnd_block() * BS;
	sqe->user_data = tag;
	u->sq_array[idx] = idx;
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

/* I/Os per second of @qd requests kept in flight for SECS seconds; -1 on an error. */
static double uring_run(int disk, int write, int qd, uint8_t *bufs)
{
	struct uring u;
	unsigned int pending = 0;
	long done = 0;
	double t0, t;

	if (uring_init(&u, MAXQD * 2))
		return -1;
	for (int i = 0; i < qd; i++)
		uring_queue(&u, disk, write, bufs + i * BS, i);
	pending = qd;
	t0 = now();
	do {
		unsigned int head, tail;
		int reaped = 0;

		if (syscall(__NR_io_uring_enter, u.fd, pending, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
			return -1;
		pending = 0;
		head = *u.cq_head;
		tail = __atomic_load_n(u.cq_tail, __ATOMIC_ACQUIRE);
		for (; head != tail; head++) {
			struct io_uring_cqe *c = &u.cqes[head & *u.cq_mask];

			if (c->res != BS)
				return -1;
			uring_queue(&u, disk, write, bufs + c->user_data * BS, c->user_data);
			reaped++;
		}
		__atomic_store_n(u.cq_head, head, __ATOMIC_RELEASE);
		pending = reaped;
		done += reaped;
		t = now();
	} while (t - t0 < SECS);
	/* Submit what was queued and wait for all qd in flight before the buffers are reused. */
	syscall(__NR_io_uring_enter, u.fd, pending, qd, IORING_ENTER_GETEVENTS, NULL, 0);
	close(u.fd);
	return done / (t - t0);
}

/* ---------------------------------------------------------------- vhost-blk */

struct vblk {
	int fd;
	struct guest g;
	struct dvq q;
	struct blk_req *reqs;
	struct vring_desc *tables;	/* an indirect table of 3 per request slot */
	uint8_t *bufs;
};

static int vblk_open(struct vblk *v, int disk)
{
	uint64_t f = (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << VIRTIO_RING_F_EVENT_IDX) |
		     (1ULL << VIRTIO_F_VERSION_1);

	v->fd = open(BLK_DEV, O_RDWR | O_CLOEXEC);
	if (v->fd < 0 || guest_init(&v->g))
		return -1;
	dvq_init(&v->q, v->g.mem, RING);
	v->reqs = guest_alloc(&v->g, sizeof(*v->reqs) * RING);
	v->tables = guest_alloc(&v->g, sizeof(*v->tables) * 3 * MAXQD);
	v->bufs = guest_alloc_aligned(&v->g, MAXQD * BS);
	if (ioctl(v->fd, VHOST_SET_OWNER) || ioctl(v->fd, VHOST_SET_FEATURES, &f) ||
	    blk_mem_table(v->fd, &v->g) || blk_vring_setup(v->fd, 0, &v->q, 0) ||
	    blk_set_backend(v->fd, disk))
		return -1;
	return 0;
}

/* avail_event, in the used ring after its entries. */
static uint16_t avail_event(struct dvq *q)
{
	return __atomic_load_n((uint16_t *)&q->used->ring[q->num], __ATOMIC_ACQUIRE);
}

static int need_event(uint16_t event, uint16_t new, uint16_t old)
{
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

/*
 * Queues request @slot (data buffer @slot) as one indirect descriptor, reusing its
 * indirect table: head = slot, since descriptors are not shared.
 */
static void vblk_queue(struct vblk *v, int write, int slot)
{
	struct dvq *q = &v->q;
	struct blk_req *r = &v->reqs[slot];
	struct vring_desc *t = &v->tables[slot * 3];

	r->hdr.type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	r->hdr.ioprio = 0;
	r->hdr.sector = rnd_block() * (BS / 512);
	t[0] = (struct vring_desc){ gpa_of(&v->g, &r->hdr), 16, VRING_DESC_F_NEXT, 1 };
	t[1] = (struct vring_desc){ gpa_of(&v->g, v->bufs + slot * BS), BS,
				    VRING_DESC_F_NEXT | (write ? 0 : VRING_DESC_F_WRITE), 2 };
	t[2] = (struct vring_desc){ gpa_of(&v->g, &r->status), 1, VRING_DESC_F_WRITE, 0 };
	q->desc[slot] = (struct vring_desc){ gpa_of(&v->g, t), 48, VRING_DESC_F_INDIRECT, 0 };
	q->avail->ring[q->avail_idx % q->num] = slot;
	q->avail_idx++;
}

static void vblk_publish(struct vblk *v, uint16_t old)
{
	struct dvq *q = &v->q;

	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_SEQ_CST);
	if (need_event(avail_event(q), q->avail_idx, old))
		dvq_kick(q);
}

/*
 * I/Os per second of @qd requests kept in flight for SECS seconds; -1 on an error. With
 * @poll the driver spins on the used ring instead of sleeping on the call eventfd.
 */
static double vblk_run(struct vblk *v, int write, int qd, int poll)
{
	struct dvq *q = &v->q;
	uint16_t old = q->avail_idx;
	long done = 0;
	double t0, t;
	int inflight = qd;

	for (int i = 0; i < qd; i++)
		vblk_queue(v, write, i);
	t0 = now();
	vblk_publish(v, old);
	for (;;) {
		uint16_t used = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
		int stop;

		if (used == q->last_used) {
			uint64_t cnt;

			if (poll)
				continue;

			/* Ask for an interrupt at the next completion, then check again. */
			__atomic_store_n(dvq_used_event(q), q->last_used, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) == q->last_used &&
			    read(q->call, &cnt, 8) != 8 && errno != EAGAIN)
				return -1;
			continue;
		}
		t = now();
		stop = t - t0 >= SECS;
		old = q->avail_idx;
		while (q->last_used != used) {
			struct vring_used_elem *e = &q->used->ring[q->last_used % q->num];

			if (v->reqs[e->id].status != VIRTIO_BLK_S_OK)
				return -1;
			q->last_used++;
			done++;
			if (stop)
				inflight--;
			else
				vblk_queue(v, write, e->id);
		}
		if (stop) {
			if (!inflight)
				break;
			continue;
		}
		vblk_publish(v, old);
	}
	return done / (t - t0);
}

/* The stat files of our device's worker and helper threads, or "". */
static char worker_stat[300], helper_stat[300];

/*
 * Whether task name @comm (a /proc line) is @name: kernel threads show their full name,
 * other tasks the first 15 characters.
 */
static int is_named(const char *comm, const char *name)
{
	size_t n = strcspn(comm, "\n");

	return (n == strlen(name) || (n == 15 && strlen(name) > 15)) && !strncmp(comm, name, n);
}

/* Finds our device's worker ("vhost-blk-rs-<our pid>") and helper ("vhost-blk-rs-h-..."). */
static void find_workers(void)
{
	char want[32], want_h[32], path[300], comm[64];
	struct dirent *e;
	DIR *d = opendir("/proc");

	snprintf(want, sizeof(want), "vhost-blk-rs-%d", getpid());
	snprintf(want_h, sizeof(want_h), "vhost-blk-rs-h-%d", getpid());
	while (d && (e = readdir(d))) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f)) {
			if (is_named(comm, want))
				snprintf(worker_stat, sizeof(worker_stat), "/proc/%s/stat", e->d_name);
			else if (is_named(comm, want_h))
				snprintf(helper_stat, sizeof(helper_stat), "/proc/%s/stat", e->d_name);
		}
		fclose(f);
	}
	if (d)
		closedir(d);
}

/* CPU seconds of the thread whose stat file is @stat (utime + stime), 0 if unknown. */
static double thread_cpu(const char *stat)
{
	unsigned long ut = 0, st = 0;
	char buf[1024], *p;
	FILE *f = stat[0] ? fopen(stat, "r") : NULL;

	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	/* After "pid (comm)": state and 10 fields, then utime and stime. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

static double self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Sets the worker's busy-poll window; -1 on an error. */
static int set_poll_us(const char *us)
{
	int fd = open(POLL_US, O_WRONLY | O_CLOEXEC);
	int ok = fd >= 0 && write(fd, us, strlen(us)) == (ssize_t)strlen(us);

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	struct vblk v;
	uint8_t *bufs;
	int disk;

	if (system("modprobe " BLK_MODULE))
		return 1;
	disk = ramdisk_open(O_RDWR | O_DIRECT);
	bufs = mmap(NULL, MAXQD * BS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (disk < 0 || bufs == MAP_FAILED || vblk_open(&v, disk)) {
		perror("vhost_blk_bench: setup");
		return 1;
	}
	find_workers();
	/* The call eventfd blocks: the harness sleeps until the device interrupts. */
	{
		int fl = fcntl(v.q.call, F_GETFL);

		fcntl(v.q.call, F_SETFL, fl & ~O_NONBLOCK);
	}
	memset(bufs, 0x5a, MAXQD * BS);
	memset(v.bufs, 0x5a, MAXQD * BS);
	/* Fill the ramdisk once so reads hit allocated pages. */
	for (uint64_t off = 0; off < DISK_SIZE; off += MAXQD * BS)
		if (pwrite(disk, bufs, MAXQD * BS, off) != MAXQD * BS)
			return 1;
	for (int i = 0; i < 12; i++) {
		/* mode 0: sleeping driver; 1: polling driver; 2: sleeping, worker busy-polls. */
		int write = i / 2 % 2, qd = i % 2 ? MAXQD : 1, mode = i / 4, poll = mode == 1;
		double ours[RUNS], ref[RUNS], wcpu = 0, hcpu = 0, dcpu = 0, wall = 0;
		char name[64];

		snprintf(name, sizeof(name), "vhost_blk_4k_rand%s_qd%d%s_iops",
			 write ? "write" : "read", qd,
			 mode == 1 ? "_polled" : mode == 2 ? "_busypoll" : "");
		if (!bench_chosen(name))
			continue;

		if (set_poll_us(mode == 2 ? BUSYPOLL_US : "0")) {
			perror("vhost_blk_bench: " POLL_US);
			return 1;
		}
		{
			for (int r = 0; r < RUNS; r++) {
				double w0, h0, d0, t0;

				/* ABBA order: each side runs first in every other pair. */
				if (r % 2)
					ref[r] = uring_run(disk, write, qd, bufs);
				w0 = thread_cpu(worker_stat);
				h0 = thread_cpu(helper_stat);
				d0 = self_cpu();
				t0 = now();
				ours[r] = vblk_run(&v, write, qd, poll);
				wall += now() - t0;
				wcpu += thread_cpu(worker_stat) - w0;
				hcpu += thread_cpu(helper_stat) - h0;
				dcpu += self_cpu() - d0;
				if (!(r % 2))
					ref[r] = uring_run(disk, write, qd, bufs);
				if (ours[r] < 0 || ref[r] < 0) {
					fprintf(stderr, "vhost_blk_bench: run failed\n");
					return 1;
				}
			}
			qsort(ours, RUNS, sizeof(double), cmp);
			qsort(ref, RUNS, sizeof(double), cmp);
			/* Where the time goes: how busy the worker and the driver were. */
			printf("# %s: worker busy %.0f%%, helper busy %.0f%%, driver busy %.0f%%\n",
			       name, 100 * wcpu / wall, 100 * hcpu / wall, 100 * dcpu / wall);
			printf("bench %s ours=%.0f ref=%.0f ratio=%.2f\n", name, ours[RUNS / 2],
			       ref[RUNS / 2], ours[RUNS / 2] / ref[RUNS / 2]);
			fflush(stdout);
		}
	}
	set_poll_us("0");
	close(v.fd);
	close(disk);
	return 0;
}
