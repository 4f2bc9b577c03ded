// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk (vhost_blk_rs.ko, /dev/vhost-blk) through its uapi: the harness is the guest
 * driver (rings and buffers in its own memory) and the device model (ioctls), with two
 * backends (fixture variants): a file on tmpfs and /dev/ram0 (brd) opened with O_DIRECT,
 * the latter also with complete_inline=0, so that every completion takes the asynchronous
 * path (completion list, worker wake, reap) that a slow disk takes, both again with the
 * worker's busy-poll window on (poll_us=50), and the ramdisk with the helper thread off
 * (helper=0: the worker serves every request itself; in the other variants a busy queue
 * hands part of its requests to the helper).
 *
 * Control plane: owner rules, features, ring and backend ioctls in the wrong order, bad
 * fds, bad ring sizes, each with its errno. Data plane: data written and read back intact
 * (checksums) over many sizes and chain layouts (one descriptor per part, header and data
 * together, indirect tables, data split across many descriptors), ring wrap (also of the
 * 16-bit indices), interrupt suppression with and without event idx, many requests in
 * flight, several queues at once, flush, get-id, discard and write zeroes, requests the
 * disk can not serve (VIRTIO_BLK_S_IOERR / UNSUPP), malformed chains (broken queue, error
 * eventfd, no used entry), detaching and closing with requests in flight. Ring pages: pinned
 * while attached and unpinned on detach, reset and close (no pin leaks), mapped again on a
 * new memory table (the owner may have remapped them), rings moved between attachments.
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "blk_harness.h"
#include "pinned_pages.h"

#define NQ	4

static const uint64_t required_features =
	(1ULL << VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << VIRTIO_RING_F_EVENT_IDX) |
	(1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_BLK_F_FLUSH) |
	(1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) |
	(1ULL << VIRTIO_BLK_F_MQ);

FIXTURE(blk) {
	int fd;
	int disk;
	struct guest g;
	struct dvq q[NQ];
};

FIXTURE_VARIANT(blk) {
	int ram;
	int deferred;	/* complete_inline=0: every completion goes through the worker */
	const char *poll_us;	/* busy-poll window of the worker, in microseconds */
	int no_helper;	/* helper=0: no requests handed to the helper thread */
	const char *id;
};

FIXTURE_VARIANT_ADD(blk, file) {
	.ram = 0,
	.id = "vblk.img",
};

FIXTURE_VARIANT_ADD(blk, ram) {
	.ram = 1,
	.id = "ram0",
};

FIXTURE_VARIANT_ADD(blk, ram_deferred) {
	.ram = 1,
	.deferred = 1,
	.id = "ram0",
};

FIXTURE_VARIANT_ADD(blk, ram_no_helper) {
	.ram = 1,
	.no_helper = 1,
	.id = "ram0",
};

FIXTURE_VARIANT_ADD(blk, file_polled) {
	.ram = 0,
	.id = "vblk.img",
	.poll_us = "50",
};

FIXTURE_VARIANT_ADD(blk, ram_polled) {
	.ram = 1,
	.id = "ram0",
	.poll_us = "50",
};

#define COMPLETE_INLINE "/sys/module/" BLK_MODULE "/parameters/complete_inline"
#define POLL_US "/sys/module/" BLK_MODULE "/parameters/poll_us"
#define HELPER "/sys/module/" BLK_MODULE "/parameters/helper"

/* Writes module parameter @path; -1 with errno on an error. */
static int set_param(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = -1, err;

	if (fd < 0)
		return -1;
	if (write(fd, val, strlen(val)) == (ssize_t)strlen(val))
		ret = 0;
	err = errno;
	close(fd);
	errno = err;
	return ret;
}

/* Reads module parameter @path into @buf (newline dropped); -1 on an error. */
static int get_param(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int set_complete_inline(int on)
{
	int fd = open(COMPLETE_INLINE, O_WRONLY | O_CLOEXEC);
	int ok = fd >= 0 && write(fd, on ? "1" : "0", 1) == 1;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static int open_disk(const FIXTURE_VARIANT(blk) *variant, int flags)
{
	if (variant->ram)
		return ramdisk_open(flags | O_DIRECT);
	return tmpfile_open("/tmp/vblk.img", flags);
}

FIXTURE_SETUP(blk)
{
	memset(self, 0, sizeof(*self));
	self->fd = -1;
	self->disk = -1;
	if (getuid())
		SKIP(return, "needs root");
	ASSERT_EQ(0, system("modprobe " BLK_MODULE));
	ASSERT_EQ(0, set_complete_inline(!variant->deferred));
	ASSERT_EQ(0, set_param(POLL_US, variant->poll_us ? variant->poll_us : "0"));
	ASSERT_EQ(0, set_param(HELPER, variant->no_helper ? "0" : "1"));
	self->fd = open(BLK_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", BLK_DEV, strerror(errno));
	self->disk = open_disk(variant, O_RDWR);
	ASSERT_LE(0, self->disk) TH_LOG("disk: %s", strerror(errno));
	ASSERT_EQ(0, guest_init(&self->g));
	for (int i = 0; i < NQ; i++)
		dvq_init(&self->q[i], self->g.mem + i * QUEUE_AREA, 64);
}

FIXTURE_TEARDOWN(blk)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->disk >= 0)
		close(self->disk);
	if (self->g.mem) {
		for (int i = 0; i < NQ; i++)
			dvq_close(&self->q[i]);
		munmap(self->g.mem, GUEST_SIZE);
	}
	if (!variant->ram)
		unlink("/tmp/vblk.img");
	set_complete_inline(1);
	set_param(POLL_US, "0");
	set_param(HELPER, "1");
}

/* Owner, features, memory table, @nq rings of @num entries, the disk. */
static int start(FIXTURE_DATA(blk) *self, uint64_t features, int nq, unsigned int num)
{
	uint64_t offered;

	if (ioctl(self->fd, VHOST_SET_OWNER) || ioctl(self->fd, VHOST_GET_FEATURES, &offered))
		return -1;
	if ((features & offered) != features || ioctl(self->fd, VHOST_SET_FEATURES, &features))
		return -1;
	if (blk_mem_table(self->fd, &self->g))
		return -1;
	for (int i = 0; i < nq; i++) {
		if (self->q[i].num != num) {
			dvq_close(&self->q[i]);
			dvq_init(&self->q[i], self->g.mem + i * QUEUE_AREA, num);
		}
		if (blk_vring_setup(self->fd, i, &self->q[i], 0))
			return -1;
	}
	return blk_set_backend(self->fd, self->disk);
}

/* Waits for the next used entry of @q; -1 on timeout. */
static int wait_used(struct dvq *q, uint32_t *id, uint32_t *len)
{
	return dvq_get_used(q, 5000, id, len) ? 0 : -1;
}

/* One request, synchronously: returns its status, or -1 on timeout or a wrong used id. */
static int do_req(FIXTURE_DATA(blk) *self, struct dvq *q, uint32_t type, uint64_t sector,
		  uint8_t *data, uint32_t len, int n, int layout, uint32_t *used_len)
{
	struct blk_req *r = guest_alloc(&self->g, sizeof(*r));
	uint32_t id, ulen;
	int head;

	head = blk_add(q, &self->g, r, type, sector, data, len, n, layout);
	dvq_kick(q);
	if (wait_used(q, &id, &ulen) || id != (uint32_t)head)
		return -1;
	if (used_len)
		*used_len = ulen;
	return blk_status(r, data, len, type, layout);
}

/* ---------------------------------------------------------------- control plane */

TEST_F(blk, features)
{
	uint64_t f, bad = 1ULL << 63;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_FEATURES, &f));
	EXPECT_EQ(required_features, f & required_features);
	EXPECT_EQ(0, f & (1ULL << VHOST_F_LOG_ALL));
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_FEATURES, &bad));
	EXPECT_EQ(EOPNOTSUPP, errno);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_BACKEND_FEATURES, &f));
	EXPECT_EQ(0, f);
}

/* The owner's child tries to detach the disk: EPERM. */
static int child_detach(int fd)
{
	struct vhost_vring_file f = { .index = 0, .fd = -1 };
	pid_t pid = fork();
	int st;

	if (!pid)
		_exit(ioctl(fd, VHOST_BLK_SET_BACKEND, &f) == -1 && errno == EPERM ? 0 : 1);
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST_F(blk, wrong_order)
{
	struct vhost_vring_state s = { .index = 0, .num = 64 };
	uint64_t f = 1ULL << VIRTIO_F_VERSION_1;

	/* No owner yet: everything but features and SET_OWNER is refused. */
	EXPECT_EQ(-1, blk_mem_table(self->fd, &self->g));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_NUM, &s));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, blk_set_backend(self->fd, self->disk));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_RESET_OWNER));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_OWNER));
	EXPECT_EQ(EBUSY, errno);
	/* No ring configured: no queue to serve. */
	EXPECT_EQ(-1, blk_set_backend(self->fd, self->disk));
	EXPECT_EQ(EINVAL, errno);
	/* A ring but no memory table. */
	ASSERT_EQ(0, blk_vring_setup(self->fd, 0, &self->q[0], 0));
	EXPECT_EQ(-1, blk_set_backend(self->fd, self->disk));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, blk_mem_table(self->fd, &self->g));
	ASSERT_EQ(0, blk_set_backend(self->fd, self->disk));
	/* Active: size, base and features are fixed. */
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_NUM, &s));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_BASE, &s));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_FEATURES, &f));
	EXPECT_EQ(EBUSY, errno);
	/* Another process is not the owner. */
	EXPECT_EQ(0, child_detach(self->fd));
	/* Detach, detach again, reset, and set up anew. */
	EXPECT_EQ(0, blk_set_backend(self->fd, -1));
	EXPECT_EQ(0, blk_set_backend(self->fd, -1));
	EXPECT_EQ(0, ioctl(self->fd, VHOST_RESET_OWNER));
	EXPECT_EQ(0, start(self, required_features, 1, 64));
}

TEST_F(blk, ring_sizes)
{
	unsigned int bad[] = { 0, 3, 63, 100, 0x10000, 0x20000 };

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vhost_vring_state s = { .index = 0, .num = bad[i] };

		EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_NUM, &s)) TH_LOG("num %u", bad[i]);
		EXPECT_EQ(EINVAL, errno);
	}
	{
		struct vhost_vring_state s = { .index = VHOST_BLK_VQ_MAX, .num = 64 };

		EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_NUM, &s));
		EXPECT_EQ(ENOBUFS, errno);
	}
	{
		struct vhost_vring_addr a = { .index = 0, .used_user_addr = 2 };

		EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_ADDR, &a));
		EXPECT_EQ(EINVAL, errno);
	}
}

TEST_F(blk, bad_fds)
{
	int efd = eventfd(0, EFD_CLOEXEC), p[2], ro;
	struct vhost_vring_file f = { .index = 0, .fd = 1000 };

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	ASSERT_EQ(0, blk_mem_table(self->fd, &self->g));
	ASSERT_EQ(0, blk_vring_setup(self->fd, 0, &self->q[0], 0));
	EXPECT_EQ(-1, blk_set_backend(self->fd, 1000));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, blk_set_backend(self->fd, efd));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, blk_set_backend(self->fd, p[0]));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, blk_set_backend(self->fd, self->fd));
	EXPECT_EQ(EINVAL, errno);
	/* Kick and call must be eventfds. */
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_KICK, &f));
	EXPECT_EQ(EBADF, errno);
	f.fd = p[0];
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_KICK, &f));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_CALL, &f));
	EXPECT_EQ(EINVAL, errno);
	/* A write-only disk can not be read. */
	if (!variant->ram) {
		ro = open("/tmp/vblk.img", O_WRONLY | O_CLOEXEC);
		ASSERT_LE(0, ro);
		EXPECT_EQ(-1, blk_set_backend(self->fd, ro));
		EXPECT_EQ(EBADF, errno);
		close(ro);
	}
	/* After all that, a good disk still attaches and works. */
	ASSERT_EQ(0, blk_set_backend(self->fd, self->disk));
	do {
		uint8_t *d = blk_data(&self->g, 4096);

		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  do_req(self, &self->q[0], VIRTIO_BLK_T_IN, 0, d, 4096, 1, 0, NULL));
	} while (0);
	close(efd);
	close(p[0]);
	close(p[1]);
}

/* ---------------------------------------------------------------- data plane */

/* Writes with one layout and reads back with another, over many sizes and offsets. */
TEST_F(blk, integrity)
{
	static const uint32_t sizes[] = { 512, 1024, 1536, 4096, 8192, 12800, 65536, 131072,
					  262144 };
	struct dvq *q = &self->q[0];

	ASSERT_EQ(0, start(self, required_features, 1, 64));
	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int layout = 0; layout < 3; layout++) {
			uint32_t len = sizes[i], ulen;
			uint64_t sector = (i * 3 + layout) * 1031 % (DISK_SIZE / 512 - len / 512);
			int n = 1 + (i + layout) % 7;
			uint8_t *w, *r;
			uint64_t sum;

			self->g.next = RING_AREA;
			w = blk_data(&self->g, len);
			r = blk_data(&self->g, len);
			ASSERT_TRUE(w && r);
			fill(w, len, i * 3 + layout);
			sum = fnv(w, len);
			ASSERT_EQ(VIRTIO_BLK_S_OK, do_req(self, q, VIRTIO_BLK_T_OUT, sector, w, len,
							  n, layout, &ulen))
				TH_LOG("write %u at %llu, layout %d", len,
				       (unsigned long long)sector, layout);
			memset(r, 0, len);
			ASSERT_EQ(VIRTIO_BLK_S_OK, do_req(self, q, VIRTIO_BLK_T_IN, sector, r, len,
							  8 - n, (layout + 1) % 3, &ulen));
			EXPECT_EQ(len + 1, ulen);
			ASSERT_EQ(sum, fnv(r, len)) TH_LOG("read back %u at %llu differs", len,
							   (unsigned long long)sector);
		}
	}
	/* The disk holds the data too (the file through its own fd). */
	if (!variant->ram) {
		uint8_t *w = blk_data(&self->g, 4096), buf[4096];

		fill(w, 4096, 77);
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  do_req(self, q, VIRTIO_BLK_T_OUT, 100, w, 4096, 2, 0, NULL));
		ASSERT_EQ(4096, pread(self->disk, buf, 4096, 100 * 512));
		EXPECT_EQ(0, memcmp(buf, w, 4096));
	}
}

/* Data split across up to 64 descriptors (direct and indirect). */
TEST_F(blk, many_segments)
{
	struct dvq *q = &self->q[0];
	uint32_t len = 64 * 4096;
	uint8_t *w, *r;

	ASSERT_EQ(0, start(self, required_features, 1, 256));
	w = blk_data(&self->g, len);
	r = blk_data(&self->g, len);
	for (int indirect = 0; indirect < 2; indirect++) {
		fill(w, len, 5 + indirect);
		ASSERT_EQ(VIRTIO_BLK_S_OK, do_req(self, q, VIRTIO_BLK_T_OUT, 2048, w, len, 64,
						  indirect ? 2 : 0, NULL));
		memset(r, 0, len);
		ASSERT_EQ(VIRTIO_BLK_S_OK, do_req(self, q, VIRTIO_BLK_T_IN, 2048, r, len, 64,
						  indirect ? 0 : 2, NULL));
		EXPECT_EQ(fnv(w, len), fnv(r, len));
	}
}

/* A ring of 8 wraps many times, and the 16-bit indices wrap too. */
TEST_F(blk, ring_wrap)
{
	struct dvq *q = &self->q[0];
	uint16_t base = 65530;
	uint64_t features = required_features;

	dvq_close(q);
	dvq_init(q, self->g.mem, 8);
	q->avail_idx = q->last_used = base;
	q->used->idx = base;
	q->avail->idx = base;
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_FEATURES, &features));
	ASSERT_EQ(0, blk_mem_table(self->fd, &self->g));
	ASSERT_EQ(0, blk_vring_setup(self->fd, 0, q, base));
	ASSERT_EQ(0, blk_set_backend(self->fd, self->disk));
	for (int i = 0; i < 100; i++) {
		uint8_t *w, *r;

		self->g.next = RING_AREA;
		w = blk_data(&self->g, 1024);
		r = blk_data(&self->g, 1024);
		fill(w, 1024, i);
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  do_req(self, q, VIRTIO_BLK_T_OUT, i * 2, w, 1024, 2, i % 3, NULL));
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  do_req(self, q, VIRTIO_BLK_T_IN, i * 2, r, 1024, 1, (i + 1) % 3, NULL));
		ASSERT_EQ(0, memcmp(w, r, 1024)) TH_LOG("request %d", i);
	}
	EXPECT_EQ((uint16_t)(base + 200), q->used->idx);
	do {
		struct vhost_vring_state s = { .index = 0 };

		ASSERT_EQ(0, blk_set_backend(self->fd, -1));
		ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_VRING_BASE, &s));
		EXPECT_EQ((uint16_t)(base + 200), s.num);
	} while (0);
}

/* Many requests in flight: a full ring of 4 KiB writes, then of reads, one kick each. */
static void inflight(struct __test_metadata *_metadata, FIXTURE_DATA(blk) *self, int nq,
		     unsigned int num)
{
	uint8_t *w[NQ][128], *r[NQ][128];
	struct blk_req *req[NQ][128];
	int heads[NQ][128];
	struct blk_req *reqs = guest_alloc(&self->g, sizeof(*reqs) * NQ * 128);

	ASSERT_NE(NULL, reqs);
	for (int pass = 0; pass < 2; pass++) {
		for (int k = 0; k < nq; k++) {
			for (unsigned int i = 0; i < num; i++) {
				uint64_t sector = (k * num + i) * 8;
				uint8_t *d;

				if (!pass) {
					w[k][i] = guest_alloc_aligned(&self->g, 4096);
					r[k][i] = guest_alloc_aligned(&self->g, 4096);
					req[k][i] = &reqs[k * 128 + i];
					ASSERT_TRUE(w[k][i] && r[k][i] && req[k][i]);
					fill(w[k][i], 4096, k * 1000 + i);
				}
				d = pass ? r[k][i] : w[k][i];
				/* Indirect: one descriptor each, the whole ring in flight. */
				heads[k][i] = blk_add(&self->q[k], &self->g, req[k][i],
						      pass ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
						      sector, d, 4096, 2, 2);
			}
			dvq_kick(&self->q[k]);
		}
		for (int k = 0; k < nq; k++) {
			int seen[128] = { 0 };

			for (unsigned int i = 0; i < num; i++) {
				uint32_t id, len;
				unsigned int j;

				ASSERT_EQ(0, wait_used(&self->q[k], &id, &len));
				for (j = 0; j < num && heads[k][j] != (int)id; j++)
					;
				ASSERT_LT(j, num);
				ASSERT_EQ(0, seen[j]);
				seen[j] = 1;
				EXPECT_EQ(VIRTIO_BLK_S_OK, req[k][j]->status);
			}
		}
	}
	for (int k = 0; k < nq; k++) {
		for (unsigned int i = 0; i < num; i++) {
			ASSERT_EQ(fnv(w[k][i], 4096), fnv(r[k][i], 4096)) {
				TH_LOG("queue %d request %u", k, i);
			}
		}
	}
}

TEST_F(blk, many_inflight)
{
	ASSERT_EQ(0, start(self, required_features, 1, 128));
	inflight(_metadata, self, 1, 128);
}

TEST_F(blk, several_queues)
{
	ASSERT_EQ(0, start(self, required_features, NQ, 64));
	inflight(_metadata, self, NQ, 64);
}

/* Interrupts: with event idx only when used_event is crossed; without, unless suppressed. */
TEST_F(blk, event_idx)
{
	for (int on = 0; on < 2; on++) {
		struct dvq *q = &self->q[0];
		uint64_t f = required_features & ~(on ? 0 : 1ULL << VIRTIO_RING_F_EVENT_IDX);
		uint8_t *d;

		if (on) {
			ASSERT_EQ(0, ioctl(self->fd, VHOST_RESET_OWNER));
			dvq_close(q);
			dvq_init(q, self->g.mem, 64);
		}
		self->g.next = RING_AREA;
		d = blk_data(&self->g, 512);
		ASSERT_EQ(0, start(self, f, 1, 64)) TH_LOG("event idx %d", on);
		/* One request: one interrupt. */
		ASSERT_EQ(VIRTIO_BLK_S_OK, do_req(self, q, VIRTIO_BLK_T_IN, 0, d, 512, 1, 0, NULL));
		EXPECT_EQ(1, efd_count(q->call, 1000));
		if (on) {
			/* Interrupt only once the 4th from now is used. */
			*dvq_used_event(q) = q->last_used + 3;
		} else {
			q->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
		}
		for (int i = 0; i < 4; i++) {
			ASSERT_EQ(VIRTIO_BLK_S_OK,
				  do_req(self, q, VIRTIO_BLK_T_IN, i, d, 512, 1, 0, NULL));
			if (i < 3)
				EXPECT_EQ(0, efd_count(q->call, 100)) TH_LOG("request %d", i);
		}
		EXPECT_EQ(on ? 1 : 0, efd_count(q->call, 1000));
		/* Asking again works. */
		q->avail->flags = 0;
		*dvq_used_event(q) = q->last_used;
		ASSERT_EQ(VIRTIO_BLK_S_OK, do_req(self, q, VIRTIO_BLK_T_IN, 0, d, 512, 1, 0, NULL));
		EXPECT_EQ(1, efd_count(q->call, 1000));
	}
}

/* avail_event (in the used ring after its entries): where the device wants a kick. */
static uint16_t avail_event(struct dvq *q)
{
	return __atomic_load_n((uint16_t *)&q->used->ring[q->num], __ATOMIC_ACQUIRE);
}

/*
 * The busy-poll window (poll_us): values above 10000 are refused and leave it unchanged;
 * a request queued without a kick while the worker polls after a completion is served
 * (without the window it never is: kicks are enabled again before the completion is
 * published); once the window is over, the device asks for kicks again.
 */
TEST_F(blk, busy_poll)
{
	struct dvq *q = &self->q[0];
	uint8_t *d = blk_data(&self->g, 512);
	char buf[32];
	int unkicked = 0;

	ASSERT_EQ(-1, set_param(POLL_US, "10001"));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, get_param(POLL_US, buf, sizeof(buf)));
	EXPECT_STREQ(variant->poll_us ? variant->poll_us : "0", buf);
	ASSERT_EQ(0, set_param(POLL_US, "10000"));
	ASSERT_EQ(0, start(self, required_features, 1, 64));
	for (int i = 0; i < 20; i++) {
		struct blk_req *r = guest_alloc(&self->g, sizeof(*r));
		uint32_t id, len;
		int head;

		ASSERT_EQ(VIRTIO_BLK_S_OK, do_req(self, q, VIRTIO_BLK_T_IN, i, d, 512, 1, 0, NULL));
		/* At once, without a kick: the worker should still be polling. */
		head = blk_add(q, &self->g, r, VIRTIO_BLK_T_IN, i, d, 512, 1, 0);
		if (dvq_get_used(q, 200, &id, &len)) {
			unkicked++;
		} else {
			/* The window was closed early (another task wanted the CPU). */
			ASSERT_EQ(0, dvq_kick(q));
			ASSERT_EQ(0, wait_used(q, &id, &len));
		}
		ASSERT_EQ((uint32_t)head, id);
		ASSERT_EQ(VIRTIO_BLK_S_OK, r->status);
	}
	TH_LOG("%d of 20 requests served without a kick", unkicked);
	EXPECT_LT(0, unkicked);
	/* Long after the window: kicks are asked for again. */
	usleep(500000);
	EXPECT_EQ(q->avail_idx, avail_event(q));
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_req(self, q, VIRTIO_BLK_T_IN, 0, d, 512, 1, 0, NULL));
	ASSERT_EQ(0, set_param(POLL_US, "0"));
}

TEST_F(blk, flush_and_id)
{
	struct dvq *q = &self->q[0];
	uint8_t *d = blk_data(&self->g, 512);
	uint32_t ulen;

	ASSERT_EQ(0, start(self, required_features, 1, 64));
	EXPECT_EQ(VIRTIO_BLK_S_OK, do_req(self, q, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 0, 0, NULL));
	memset(d, 0xaa, 512);
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  do_req(self, q, VIRTIO_BLK_T_GET_ID, 0, d, VIRTIO_BLK_ID_BYTES, 1, 0, &ulen));
	EXPECT_EQ(0, memcmp(d, variant->id, strlen(variant->id) + 1))
		TH_LOG("id '%.20s'", (char *)d);
	EXPECT_EQ(VIRTIO_BLK_ID_BYTES + 1, ulen);
	/* An unknown request type. */
	EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, do_req(self, q, 99, 0, d, 512, 1, 0, NULL));
}

/* Discard and write zeroes: the range reads back as zeroes (write zeroes; discard on a file). */
TEST_F(blk, discard_write_zeroes)
{
	struct dvq *q = &self->q[0];
	uint8_t *w = blk_data(&self->g, 65536), *r = blk_data(&self->g, 65536);
	struct virtio_blk_discard_write_zeroes *rg = (void *)blk_data(&self->g, 32);
	static const uint8_t zero[65536];

	ASSERT_EQ(0, start(self, required_features, 1, 64));
	for (int type = 0; type < 2; type++) {
		uint32_t t = type ? VIRTIO_BLK_T_WRITE_ZEROES : VIRTIO_BLK_T_DISCARD;

		fill(w, 65536, type);
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  do_req(self, q, VIRTIO_BLK_T_OUT, 4096, w, 65536, 1, 0, NULL));
		/* Two ranges: sectors 4104..4111 and 4160..4175 (page-aligned). */
		rg[0] = (struct virtio_blk_discard_write_zeroes){ .sector = 4104, .num_sectors = 8 };
		rg[1] = (struct virtio_blk_discard_write_zeroes){ .sector = 4160, .num_sectors = 16 };
		ASSERT_EQ(VIRTIO_BLK_S_OK, do_req(self, q, t, 0, (uint8_t *)rg, 32, 1, 0, NULL));
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  do_req(self, q, VIRTIO_BLK_T_IN, 4096, r, 65536, 1, 0, NULL));
		if (type || !variant->ram) {
			EXPECT_EQ(0, memcmp(r + 8 * 512, zero, 8 * 512));
			EXPECT_EQ(0, memcmp(r + 64 * 512, zero, 16 * 512));
		}
		/* The rest is untouched. */
		EXPECT_EQ(0, memcmp(r, w, 8 * 512));
		EXPECT_EQ(0, memcmp(r + 16 * 512, w + 16 * 512, 48 * 512));
		EXPECT_EQ(0, memcmp(r + 80 * 512, w + 80 * 512, 48 * 512));
		/* A range past the end; unknown flags; a partial range descriptor. */
		rg[0] = (struct virtio_blk_discard_write_zeroes){ .sector = DISK_SIZE / 512 - 4,
								  .num_sectors = 8 };
		EXPECT_EQ(VIRTIO_BLK_S_IOERR, do_req(self, q, t, 0, (uint8_t *)rg, 16, 1, 0, NULL));
		rg[0] = (struct virtio_blk_discard_write_zeroes){ .sector = 0, .num_sectors = 8,
								  .flags = 0x80 };
		EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, do_req(self, q, t, 0, (uint8_t *)rg, 16, 1, 0, NULL));
		EXPECT_EQ(VIRTIO_BLK_S_IOERR, do_req(self, q, t, 0, (uint8_t *)rg, 12, 1, 0, NULL));
	}
}

/*
 * Requests the disk can not serve complete with IOERR; the queue goes on. The features
 * offered follow the disk: a read-only one has RO and neither discard nor write zeroes.
 */
TEST_F(blk, io_errors)
{
	const uint64_t dz = (1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	struct dvq *q = &self->q[0];
	uint8_t *d = blk_data(&self->g, 8192);
	uint64_t last = DISK_SIZE / 512, f;

	ASSERT_EQ(0, start(self, required_features, 1, 64));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_FEATURES, &f));
	EXPECT_EQ(dz, f & dz);
	EXPECT_EQ(0, f & (1ULL << VIRTIO_BLK_F_RO));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, do_req(self, q, VIRTIO_BLK_T_IN, last, d, 512, 1, 0, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_req(self, q, VIRTIO_BLK_T_OUT, last - 1, d, 1024, 1, 0, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_req(self, q, VIRTIO_BLK_T_IN, ~0ULL / 256, d, 512, 1, 0, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, do_req(self, q, VIRTIO_BLK_T_IN, 0, d, 700, 1, 0, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_OK, do_req(self, q, VIRTIO_BLK_T_IN, last - 16, d, 8192, 1, 0,
					  NULL));
	/* A read-only disk refuses writes but serves reads. */
	{
		int ro = open_disk(variant, O_RDONLY);

		ASSERT_LE(0, ro);
		ASSERT_EQ(0, blk_set_backend(self->fd, ro));
		close(ro);
		ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_FEATURES, &f));
		EXPECT_EQ(0, f & dz);
		EXPECT_NE(0, f & (1ULL << VIRTIO_BLK_F_RO));
		EXPECT_EQ(VIRTIO_BLK_S_IOERR,
			  do_req(self, q, VIRTIO_BLK_T_OUT, 0, d, 512, 1, 0, NULL));
		EXPECT_EQ(VIRTIO_BLK_S_OK, do_req(self, q, VIRTIO_BLK_T_IN, 0, d, 512, 1, 0, NULL));
	}
}

/*
 * A malformed chain breaks the queue: error eventfd, no used entry, no oops. With @behind,
 * that many good requests are queued after it under the same kick, so the worker hands the
 * bad chain to its helper thread (if on): the helper's report must break the queue too, and
 * the bad head must never be used.
 */
static void bad_chain(struct __test_metadata *_metadata, FIXTURE_DATA(blk) *self, int kind,
		      int behind)
{
	struct dvq *q = &self->q[0];
	struct blk_req *r = guest_alloc(&self->g, sizeof(*r));
	uint8_t *d = blk_data(&self->g, 4096);
	uint32_t id, len;
	int bad = -1;

	ASSERT_EQ(0, start(self, required_features, 1, 64));
	r->hdr = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN };
	switch (kind) {
	case 0: { /* data outside the memory table */
		struct seg s[3] = { { gpa_of(&self->g, &r->hdr), 16, 0 },
				    { GUEST_BASE + GUEST_SIZE, 4096, 1 },
				    { gpa_of(&self->g, &r->status), 1, 1 } };

		bad = dvq_add(q, &self->g, s, 3, 0);
		break;
	}
	case 1: { /* a loop */
		struct seg s[2] = { { gpa_of(&self->g, &r->hdr), 16, 0 },
				    { gpa_of(&self->g, d), 4096, 1 } };
		int head = dvq_add(q, &self->g, s, 2, 0);

		q->desc[(head + 1) % q->num].flags |= VRING_DESC_F_NEXT;
		q->desc[(head + 1) % q->num].next = head;
		bad = head;
		break;
	}
	case 2: { /* no status byte */
		struct seg s[1] = { { gpa_of(&self->g, &r->hdr), 16, 0 } };

		bad = dvq_add(q, &self->g, s, 1, 0);
		break;
	}
	case 3: { /* header too short */
		struct seg s[2] = { { gpa_of(&self->g, &r->hdr), 8, 0 },
				    { gpa_of(&self->g, &r->status), 1, 1 } };

		bad = dvq_add(q, &self->g, s, 2, 0);
		break;
	}
	default: { /* an indirect table outside memory */
		struct seg s[1] = { { gpa_of(&self->g, &r->hdr), 16, 0 } };
		int head = dvq_add(q, &self->g, s, 1, 0);

		q->desc[head].flags = VRING_DESC_F_INDIRECT;
		q->desc[head].addr = GUEST_BASE - 4096;
		q->desc[head].len = 64;
		bad = head;
		break;
	}
	}
	for (int i = 0; i < behind; i++) {
		struct blk_req *g = guest_alloc(&self->g, sizeof(*g));
		uint8_t *gd = blk_data(&self->g, 4096);

		ASSERT_NE(NULL, g);
		ASSERT_NE(NULL, gd);
		ASSERT_LE(0, blk_add(q, &self->g, g, VIRTIO_BLK_T_IN, i * 8, gd, 4096, 1, 2));
	}
	dvq_kick(q);
	EXPECT_EQ(1, efd_count(q->err, 3000) > 0);
	if (!behind) {
		EXPECT_EQ(0, dvq_get_used(q, 200, &id, &len));
	}
	/* Good requests popped before the queue broke may complete; the bad one never. */
	while (dvq_get_used(q, 200, &id, &len))
		EXPECT_NE((uint32_t)bad, id);
	/* The device model resets; the device works again. */
	ASSERT_EQ(0, ioctl(self->fd, VHOST_RESET_OWNER));
	dvq_close(q);
	dvq_init(q, self->g.mem, 64);
	ASSERT_EQ(0, start(self, required_features, 1, 64));
	EXPECT_EQ(VIRTIO_BLK_S_OK, do_req(self, q, VIRTIO_BLK_T_IN, 0, d, 4096, 1, 0, NULL));
}

TEST_F(blk, bad_outside_memory)
{
	bad_chain(_metadata, self, 0, 0);
}

TEST_F(blk, bad_loop)
{
	bad_chain(_metadata, self, 1, 0);
}

TEST_F(blk, bad_no_status)
{
	bad_chain(_metadata, self, 2, 0);
}

TEST_F(blk, bad_short_header)
{
	bad_chain(_metadata, self, 3, 0);
}

TEST_F(blk, bad_indirect)
{
	bad_chain(_metadata, self, 4, 0);
}

TEST_F(blk, bad_loop_behind)
{
	bad_chain(_metadata, self, 1, 8);
}

TEST_F(blk, bad_indirect_behind)
{
	bad_chain(_metadata, self, 4, 8);
}

/* ---------------------------------------------------------------- pinned ring pages */


/* Writes 4 KiB at @sector and reads them back through @q: 0 if intact. */
static int write_read(FIXTURE_DATA(blk) *self, struct dvq *q, uint64_t sector, unsigned int seed)
{
	uint8_t *w = blk_data(&self->g, 4096), *r = blk_data(&self->g, 4096);

	if (!w || !r)
		return -1;
	fill(w, 4096, seed);
	memset(r, 0, 4096);
	if (do_req(self, q, VIRTIO_BLK_T_OUT, sector, w, 4096, 1, 2, NULL) != VIRTIO_BLK_S_OK ||
	    do_req(self, q, VIRTIO_BLK_T_IN, sector, r, 4096, 1, 0, NULL) != VIRTIO_BLK_S_OK)
		return -1;
	return memcmp(w, r, 4096) ? -1 : 0;
}

/*
 * An attached queue's rings are pinned (and kernel-mapped): at least a page for each of the
 * descriptor table, avail and used rings. Detaching, a new memory table (the rings are
 * mapped again: as many pins), resetting the owner and closing with the disk attached
 * give every pin back.
 */
TEST_F(blk, rings_pinned)
{
	struct dvq *q = &self->q[0];
	long before = pinned_pages(), attached;

	ASSERT_LE(0, before) TH_LOG("no vm/stat_refresh or nr_foll_pin_* in /proc/vmstat");
	ASSERT_EQ(0, start(self, required_features, 1, 64));
	ASSERT_EQ(0, write_read(self, q, 8, 1));
	attached = pinned_pages();
	EXPECT_LE(before + 3, attached);

	ASSERT_EQ(0, blk_set_backend(self->fd, -1));
	EXPECT_EQ(before, pinned_pages());
	ASSERT_EQ(0, blk_set_backend(self->fd, self->disk));
	EXPECT_EQ(attached, pinned_pages());
	ASSERT_EQ(0, write_read(self, q, 16, 2));

	ASSERT_EQ(0, blk_mem_table(self->fd, &self->g));
	EXPECT_EQ(attached, pinned_pages());
	ASSERT_EQ(0, write_read(self, q, 24, 3));

	ASSERT_EQ(0, ioctl(self->fd, VHOST_RESET_OWNER));
	EXPECT_EQ(before, pinned_pages());

	/* A fresh device and ring, closed with the disk attached. */
	close(self->fd);
	self->fd = open(BLK_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	dvq_close(q);
	dvq_init(q, self->g.mem, 64);
	ASSERT_EQ(0, start(self, required_features, 1, 64));
	ASSERT_EQ(0, write_read(self, q, 32, 4));
	EXPECT_EQ(attached, pinned_pages());
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(before, pinned_pages());
}

/*
 * The owner replaces the guest memory holding an attached queue's rings (new pages at the
 * same addresses, same contents), then sets the memory table again, as a device model does
 * after remapping guest memory: the device must serve the rings' new pages, not the ones it
 * pinned before (requests would never be seen, nor their completions).
 */
TEST_F(blk, mem_table_remaps_rings)
{
	struct dvq *q = &self->q[0];
	uint8_t *copy = malloc(QUEUE_AREA);

	ASSERT_NE(NULL, copy);
	ASSERT_EQ(0, start(self, required_features, 1, 64));
	ASSERT_EQ(0, write_read(self, q, 8, 5));
	/* Let the worker finish its run (it may still write the used ring's avail_event). */
	usleep(100000);
	memcpy(copy, self->g.mem, QUEUE_AREA);
	ASSERT_EQ(self->g.mem, mmap(self->g.mem, QUEUE_AREA, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	memcpy(self->g.mem, copy, QUEUE_AREA);
	free(copy);
	ASSERT_EQ(0, blk_mem_table(self->fd, &self->g));
	for (int i = 0; i < 8; i++) {
		ASSERT_EQ(0, write_read(self, q, 16 + 8 * i, 6 + i)) TH_LOG("request %d", i);
	}
}

/*
 * Rings moved while the disk is detached (new addresses, a fresh ring at base 0): the next
 * attach serves the new rings and leaves the old ones alone.
 */
TEST_F(blk, rings_moved)
{
	struct dvq *q = &self->q[0];
	uint16_t old_used;

	ASSERT_EQ(0, start(self, required_features, 1, 64));
	ASSERT_EQ(0, write_read(self, q, 8, 9));
	ASSERT_EQ(0, blk_set_backend(self->fd, -1));
	old_used = q->used->idx;
	dvq_close(q);
	dvq_init(q, self->g.mem + 2 * QUEUE_AREA, 64);
	ASSERT_EQ(0, blk_vring_setup(self->fd, 0, q, 0));
	ASSERT_EQ(0, blk_set_backend(self->fd, self->disk));
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(0, write_read(self, q, 16 + 8 * i, 10 + i));
	EXPECT_EQ(8, q->used->idx);
	EXPECT_EQ(old_used, ((struct vring_used *)(self->g.mem + 4096))->idx);
}

/* Detaching waits for the requests in flight and completes them; closing does not oops. */
TEST_F(blk, detach_and_close_inflight)
{
	struct dvq *q = &self->q[0];
	struct blk_req *r[64];
	uint8_t *d[64];

	ASSERT_EQ(0, start(self, required_features, 1, 64));
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 64; i++) {
			if (!round) {
				d[i] = blk_data(&self->g, 16384);
				r[i] = guest_alloc(&self->g, sizeof(*r[i]));
			}
			blk_add(q, &self->g, r[i], i % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
				i * 32, d[i], 16384, 4, 2);
		}
		dvq_kick(q);
		if (round)
			break;
		ASSERT_EQ(0, blk_set_backend(self->fd, -1));
		do {
			struct vhost_vring_state s = { .index = 0 };
			uint32_t id, len;
			int n = 0;

			ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_VRING_BASE, &s));
			/* What was taken is in the used ring now. */
			while (dvq_get_used(q, 0, &id, &len))
				n++;
			EXPECT_EQ(s.num, q->last_used);
			TH_LOG("%d of 64 served before the detach", n);
			/* Attach again: the rest is served. */
			ASSERT_EQ(0, blk_set_backend(self->fd, self->disk));
			while (n < 64) {
				ASSERT_EQ(0, wait_used(q, &id, &len));
				n++;
			}
		} while (0);
	}
	/* Close with requests in flight (round 1). */
	close(self->fd);
	self->fd = -1;
}

TEST_HARNESS_MAIN
