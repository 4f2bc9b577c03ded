// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-net through its uapi, for our vhost_net_rs.ko (/dev/vhost-net-rs) and Linux's C
 * vhost_net.ko (/dev/vhost-net) alike (fixture variants): the harness is the guest driver
 * (rings and buffers in its own memory, see vring_driver.h) and the device model (ioctls).
 *
 * Control plane: owner rules, features, memory table, ring and eventfd ioctls, backends,
 * each bad input with the errno of drivers/vhost. Data plane, with a tap backend watched
 * through an AF_PACKET socket on the tap interface: transmitted frames of many sizes and
 * chain layouts (direct, split header, indirect) arrive intact; received frames land in
 * the guest's buffers, across several with mergeable buffers; a frame too big for a
 * non-mergeable buffer is dropped; ring wrap; interrupt suppression with and without event
 * idx; malformed chains signal the error eventfd and never produce a used entry. Ring
 * pages: ours pins the rings of attached queues and gives the pins back; a new memory table
 * after the owner remapped the rings' memory is served from the new pages.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vhost_harness.h"
#include "pinned_pages.h"

static const uint64_t required_features =
	(1ULL << VIRTIO_F_NOTIFY_ON_EMPTY) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
	(1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_F_ANY_LAYOUT) |
	(1ULL << VIRTIO_F_VERSION_1) | (1ULL << VHOST_NET_F_VIRTIO_NET_HDR) |
	(1ULL << VIRTIO_NET_F_MRG_RXBUF);

/* ---------------------------------------------------------------- fixture */

FIXTURE(vhost) {
	int fd;
	struct guest g;
	struct dvq q[2];
	struct tap tap;
	int have_tap;
};

FIXTURE_VARIANT(vhost) {
	const char *dev;
	const char *module;
};

FIXTURE_VARIANT_ADD(vhost, rust) {
	.dev = "/dev/vhost-net-rs",
	.module = "vhost_net_rs",
};

FIXTURE_VARIANT_ADD(vhost, c) {
	.dev = "/dev/vhost-net",
	.module = "vhost_net",
};

FIXTURE_SETUP(vhost)
{
	char cmd[128];

	memset(self, 0, sizeof(*self));
	self->fd = -1;
	if (getuid())
		SKIP(return, "needs root");
	snprintf(cmd, sizeof(cmd), "modprobe %s", variant->module);
	ASSERT_EQ(0, system(cmd)) TH_LOG("%s failed", cmd);
	self->fd = open(variant->dev, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", variant->dev, strerror(errno));
	ASSERT_EQ(0, guest_init(&self->g));
	dvq_init(&self->q[VQ_RX], self->g.mem, RING);
	dvq_init(&self->q[VQ_TX], self->g.mem + RING_AREA / 2, RING);
}

FIXTURE_TEARDOWN(vhost)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->have_tap)
		tap_close(&self->tap);
	if (self->g.mem) {
		dvq_close(&self->q[VQ_RX]);
		dvq_close(&self->q[VQ_TX]);
		munmap(self->g.mem, GUEST_SIZE);
	}
}

/* Owner, features, memory, both rings, and a tap backend on both. */
static int start(struct __test_metadata *_metadata, FIXTURE_DATA(vhost) *self, uint64_t features,
		 unsigned int rx_num, unsigned int tx_num)
{
	uint64_t offered;

	if (ioctl(self->fd, VHOST_SET_OWNER) || ioctl(self->fd, VHOST_GET_FEATURES, &offered))
		return -1;
	if ((features & offered) != features || ioctl(self->fd, VHOST_SET_FEATURES, &features))
		return -1;
	if (vhost_mem_table(self->fd, &self->g, GUEST_BASE, GUEST_SIZE))
		return -1;
	self->q[VQ_RX].num = rx_num;
	self->q[VQ_TX].num = tx_num;
	if (vring_setup(self->fd, VQ_RX, &self->q[VQ_RX]) ||
	    vring_setup(self->fd, VQ_TX, &self->q[VQ_TX]))
		return -1;
	if (tap_open(&self->tap)) {
		TH_LOG("tap: %s", strerror(errno));
		return -1;
	}
	self->have_tap = 1;
	if (set_backend(self->fd, VQ_RX, self->tap.fd) || set_backend(self->fd, VQ_TX, self->tap.fd))
		return -1;
	return 0;
}

/* Adds one frame to the TX ring with the given chain layout, without a kick. */
static void tx_queue(FIXTURE_DATA(vhost) *self, const uint8_t *frame, size_t len, int layout)
{
	struct dvq *q = &self->q[VQ_TX];
	uint8_t *buf = guest_alloc(&self->g, HDR_LEN + len);
	struct seg s[3];
	int n;

	memset(buf, 0, HDR_LEN);
	memcpy(buf + HDR_LEN, frame, len);
	switch (layout) {
	case 0: /* header and frame in one buffer */
		s[0] = (struct seg){ gpa_of(&self->g, buf), HDR_LEN + len, 0 };
		n = 1;
		break;
	case 1: /* header apart, frame split in two */
		s[0] = (struct seg){ gpa_of(&self->g, buf), HDR_LEN, 0 };
		s[1] = (struct seg){ gpa_of(&self->g, buf + HDR_LEN), len / 2, 0 };
		s[2] = (struct seg){ gpa_of(&self->g, buf + HDR_LEN + len / 2), len - len / 2, 0 };
		n = 3;
		break;
	default: /* the layout of case 1 through an indirect table */
		s[0] = (struct seg){ gpa_of(&self->g, buf), HDR_LEN, 0 };
		s[1] = (struct seg){ gpa_of(&self->g, buf + HDR_LEN), len / 2, 0 };
		s[2] = (struct seg){ gpa_of(&self->g, buf + HDR_LEN + len / 2), len - len / 2, 0 };
		n = 3;
		break;
	}
	dvq_add(q, &self->g, s, n, layout == 2);
}

/* Queues one frame for transmission with the given chain layout, and kicks. */
static void tx_frame(FIXTURE_DATA(vhost) *self, const uint8_t *frame, size_t len, int layout)
{
	tx_queue(self, frame, len, layout);
	dvq_kick(&self->q[VQ_TX]);
}

/* Posts @count receive buffers of @size bytes. */
static void rx_post(FIXTURE_DATA(vhost) *self, int count, uint32_t size, uint8_t **bufs)
{
	for (int i = 0; i < count; i++) {
		uint8_t *b = guest_alloc(&self->g, size);
		struct seg s = { gpa_of(&self->g, b), size, 1 };

		memset(b, 0xee, size);
		bufs[dvq_add(&self->q[VQ_RX], &self->g, &s, 1, 0)] = b;
	}
	dvq_kick(&self->q[VQ_RX]);
}

/*
 * Collects the next received test frame into @out (header included; across num_buffers
 * buffers when @mergeable) and returns its length, or -1. Frames the kernel itself sends
 * out of the tap (none expected: IPv6 is off on it) are skipped and logged.
 */
static ssize_t rx_packet(struct __test_metadata *_metadata, FIXTURE_DATA(vhost) *self,
			 uint8_t **bufs, uint8_t *out, size_t outlen, int mergeable, int *nbufs)
{
	for (;;) {
		uint32_t id, len;
		size_t off = 0;
		int n = 0, want = 1;

		do {
			if (!dvq_get_used(&self->q[VQ_RX], 3000, &id, &len))
				return -1;
			if (id >= RING || !bufs[id] || off + len > outlen)
				return -1;
			memcpy(out + off, bufs[id], len);
			off += len;
			if (++n == 1 && mergeable)
				want = out[10] | out[11] << 8;
		} while (n < want);
		*nbufs = n;
		if (off >= HDR_LEN + 14 && out[HDR_LEN + 12] == (ETHERTYPE_TEST >> 8) &&
		    out[HDR_LEN + 13] == (ETHERTYPE_TEST & 0xff))
			return off;
		TH_LOG("skipped a frame the kernel sent: %zu bytes, ethertype %02x%02x",
		       off - HDR_LEN, out[HDR_LEN + 12], out[HDR_LEN + 13]);
	}
}

/* ---------------------------------------------------------------- control plane */

TEST_F(vhost, features_offered)
{
	uint64_t f = 0, b;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_FEATURES, &f));
	EXPECT_EQ(required_features, f & required_features) TH_LOG("offered %#llx", (long long)f);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_GET_FEATURES, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, ioctl(self->fd, VHOST_GET_BACKEND_FEATURES, &b));
}

TEST_F(vhost, unsupported_features_refused)
{
	uint64_t f = 1ULL << 63;

	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_FEATURES, &f));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_BACKEND_FEATURES, &f));
	EXPECT_EQ(EOPNOTSUPP, errno);
	f = 1ULL << VIRTIO_F_VERSION_1;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_FEATURES, &f));
}

TEST_F(vhost, owner_rules)
{
	struct vhost_vring_state s = { .index = 0, .num = 256 };
	int status;
	pid_t pid;

	/* Nothing but features and SET_OWNER before there is an owner. */
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_NUM, &s));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, vhost_mem_table(self->fd, &self->g, GUEST_BASE, GUEST_SIZE));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, set_backend(self->fd, 0, -1));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IO(VHOST_VIRTIO, 0x7f), &s));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_RESET_OWNER));
	EXPECT_EQ(EPERM, errno);

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_OWNER));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_VRING_NUM, &s));

	/* Another process (another mm) sharing the file is not the owner. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int ok = ioctl(self->fd, VHOST_SET_VRING_NUM, &s) == -1 && errno == EPERM &&
			 ioctl(self->fd, VHOST_SET_OWNER) == -1 && errno == EBUSY &&
			 ioctl(self->fd, VHOST_RESET_OWNER) == -1 && errno == EPERM;
		_exit(ok ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* After a reset anyone may become the owner again. */
	EXPECT_EQ(0, ioctl(self->fd, VHOST_RESET_OWNER));
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
}

TEST_F(vhost, mem_table_errors)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[2];
	} t;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	memset(&t, 0, sizeof(t));
	t.m.nregions = 1;
	t.m.padding = 1;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_MEM_TABLE, &t));
	EXPECT_EQ(EOPNOTSUPP, errno);
	t.m.padding = 0;
	t.m.nregions = 65;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_MEM_TABLE, &t));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_MEM_TABLE, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* The regions array runs past readable memory. */
	t.m.nregions = 64;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_MEM_TABLE, &t));
	EXPECT_EQ(EFAULT, errno);

	t.m.nregions = 1;
	t.r[0] = (struct vhost_memory_region){ GUEST_BASE, GUEST_SIZE, 0xffffffff81000000ULL };
	if (!strcmp(variant->module, "vhost_net")) {
		/*
		 * Difference (Documentation/vhost.rst): the C vhost_net checks the table against
		 * active rings only, and accepts this until a ring uses it; ours refuses at once.
		 */
		EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_MEM_TABLE, &t));
	} else {
		EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_MEM_TABLE, &t)) TH_LOG("kernel address");
		EXPECT_EQ(EFAULT, errno);
	}
	t.r[0] = (struct vhost_memory_region){ GUEST_BASE, 0, (uintptr_t)self->g.mem };
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_MEM_TABLE, &t)) TH_LOG("empty region");
	EXPECT_EQ(EFAULT, errno);
	t.r[0] = (struct vhost_memory_region){ ~0ULL - 4095, 8192, (uintptr_t)self->g.mem };
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_MEM_TABLE, &t)) TH_LOG("wrapping region");
	EXPECT_EQ(EFAULT, errno);

	EXPECT_EQ(0, vhost_mem_table(self->fd, &self->g, GUEST_BASE, GUEST_SIZE));
	t.m.nregions = 0;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_MEM_TABLE, &t));
}

TEST_F(vhost, ring_ioctl_errors)
{
	struct vhost_vring_state s = { .index = 2, .num = 256 };
	struct vhost_vring_addr a = { .index = 0 };
	static const unsigned int bad_num[] = { 0, 3, 100, 0x10000, 0x20000 };

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_NUM, &s));
	EXPECT_EQ(ENOBUFS, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_NUM, NULL));
	EXPECT_EQ(EFAULT, errno);
	s.index = 0;
	for (size_t i = 0; i < sizeof(bad_num) / sizeof(bad_num[0]); i++) {
		s.num = bad_num[i];
		EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_NUM, &s)) TH_LOG("num %u", s.num);
		EXPECT_EQ(EINVAL, errno);
	}
	s.num = 256;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_VRING_NUM, &s));

	s.num = 0x10000;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_BASE, &s));
	EXPECT_EQ(EINVAL, errno);
	s.num = 7;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_VRING_BASE, &s));
	s.num = 0;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_GET_VRING_BASE, &s));
	EXPECT_EQ(7, s.num);
	EXPECT_EQ(0, s.index);

	a.flags = 2;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_ADDR, &a));
	EXPECT_EQ(EOPNOTSUPP, errno);
	a.flags = 0;
	a.desc_user_addr = (uintptr_t)self->q[0].desc;
	a.used_user_addr = (uintptr_t)self->q[0].used;
	a.avail_user_addr = (uintptr_t)self->q[0].avail + 1;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_ADDR, &a));
	EXPECT_EQ(EINVAL, errno);
	a.avail_user_addr = (uintptr_t)self->q[0].avail;
	a.used_user_addr = (uintptr_t)self->q[0].used + 2;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_ADDR, &a));
	EXPECT_EQ(EINVAL, errno);
	a.used_user_addr = (uintptr_t)self->q[0].used;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_VRING_ADDR, &a));
}

TEST_F(vhost, ring_eventfd_errors)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	unsigned long cmds[] = { VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_SET_VRING_ERR };

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	for (int i = 0; i < 3; i++) {
		struct vhost_vring_file f = { .index = 1, .fd = 9999 };

		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], &f));
		EXPECT_EQ(EBADF, errno);
		f.fd = devnull;
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], &f));
		EXPECT_EQ(EINVAL, errno);
		f.fd = self->q[1].kick;
		EXPECT_EQ(0, ioctl(self->fd, cmds[i], &f));
		f.fd = -1;
		EXPECT_EQ(0, ioctl(self->fd, cmds[i], &f));
		f.index = 2;
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], &f));
		EXPECT_EQ(ENOBUFS, errno);
	}
	close(devnull);
}

TEST_F(vhost, backend_errors)
{
	struct vhost_vring_state s = { .index = 0, .num = RING };
	struct vhost_vring_addr a = {
		.index = 0,
		.desc_user_addr = 0xffffffff81000000ULL,
		.avail_user_addr = 0xffffffff81010000ULL,
		.used_user_addr = 0xffffffff81020000ULL,
	};
	int efd = eventfd(0, EFD_CLOEXEC);
	struct tap t;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	EXPECT_EQ(-1, set_backend(self->fd, 2, -1));
	EXPECT_EQ(ENOBUFS, errno);
	/* No memory table yet: refused, even a detach (vhost_vq_access_ok). */
	EXPECT_EQ(-1, set_backend(self->fd, 0, -1));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, vhost_mem_table(self->fd, &self->g, GUEST_BASE, GUEST_SIZE));
	EXPECT_EQ(-1, set_backend(self->fd, 0, efd));
	EXPECT_EQ(ENOTSOCK, errno);
	EXPECT_EQ(-1, set_backend(self->fd, 0, 9999));
	EXPECT_EQ(ENOTSOCK, errno);
	EXPECT_EQ(0, set_backend(self->fd, 0, -1));

	/* Rings in kernel memory are refused when the backend is set. */
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_VRING_NUM, &s));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_VRING_ADDR, &a));
	ASSERT_EQ(0, tap_open(&t)) TH_LOG("tap: %s", strerror(errno));
	EXPECT_EQ(-1, set_backend(self->fd, 0, t.fd));
	EXPECT_EQ(EFAULT, errno);

	/* With good rings the tap is accepted; then the ring can not be resized. */
	ASSERT_EQ(0, vring_setup(self->fd, 0, &self->q[0]));
	EXPECT_EQ(0, set_backend(self->fd, 0, t.fd));
	s.num = 32;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_NUM, &s));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_BASE, &s));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, set_backend(self->fd, 0, -1));
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_VRING_NUM, &s));
	tap_close(&t);
	close(efd);
}

TEST_F(vhost, unknown_ioctls)
{
	struct vhost_vring_state s = { .index = 0 };

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	EXPECT_EQ(-1, ioctl(self->fd, _IOW(VHOST_VIRTIO, 0x7f, struct vhost_vring_state), &s));
	EXPECT_EQ(ENOTTY, errno);
	/* The ring index is read first, as in vhost_vring_ioctl. */
	EXPECT_EQ(-1, ioctl(self->fd, _IOW(VHOST_VIRTIO, 0x7f, struct vhost_vring_state), NULL));
	EXPECT_EQ(EFAULT, errno);
	s.index = 5;
	EXPECT_EQ(-1, ioctl(self->fd, _IOW(VHOST_VIRTIO, 0x7f, struct vhost_vring_state), &s));
	EXPECT_EQ(ENOBUFS, errno);
}

/* ---------------------------------------------------------------- data plane */

TEST_F(vhost, tx_frames_of_many_sizes_and_layouts)
{
	static const size_t sizes[] = { 60, 61, 100, 127, 128, 511, 512, 999, 1000, 1514 };
	uint8_t frame[2048], got[2048];
	unsigned int seed = 0;
	uint32_t id, len;

	ASSERT_EQ(0, start(_metadata, self, 1ULL << VIRTIO_F_VERSION_1, RING, RING));
	for (int layout = 0; layout < 3; layout++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++, seed++) {
			make_frame(frame, sizes[i], seed);
			tx_frame(self, frame, sizes[i], layout);
			ASSERT_EQ((ssize_t)sizes[i], capture(&self->tap, got, sizeof(got), 3000))
				TH_LOG("layout %d size %zu", layout, sizes[i]);
			EXPECT_EQ(0, memcmp(frame, got, sizes[i]));
			ASSERT_EQ(1, dvq_get_used(&self->q[VQ_TX], 3000, &id, &len));
		}
	}
	EXPECT_LE(1, efd_count(self->q[VQ_TX].call, 1000));
	EXPECT_EQ(0, efd_count(self->q[VQ_TX].err, 0));
}

TEST_F(vhost, tx_ring_wraps)
{
	uint8_t frame[256], got[2048];
	uint32_t id, len;

	ASSERT_EQ(0, start(_metadata, self, 1ULL << VIRTIO_F_VERSION_1, RING, 16));
	/* Several times around a 16-entry ring and past the u16 index only modulo 16. */
	for (unsigned int i = 0; i < 200; i++) {
		make_frame(frame, 64 + i % 150, i);
		tx_frame(self, frame, 64 + i % 150, i % 3);
		ASSERT_EQ((ssize_t)(64 + i % 150), capture(&self->tap, got, sizeof(got), 3000))
			TH_LOG("packet %u", i);
		EXPECT_EQ(0, memcmp(frame, got, 64 + i % 150));
		ASSERT_EQ(1, dvq_get_used(&self->q[VQ_TX], 3000, &id, &len));
		/* Recycle the buffer space: the bump allocator would run out otherwise. */
		self->g.next = RING_AREA;
	}
}

TEST_F(vhost, rx_frames_land_in_guest_buffers)
{
	uint8_t *bufs[RING] = { 0 }, frame[2048], got[4096];
	int n;

	ASSERT_EQ(0, start(_metadata, self, 1ULL << VIRTIO_F_VERSION_1, RING, RING));
	rx_post(self, 32, 2048, bufs);
	for (unsigned int i = 0; i < 16; i++) {
		size_t flen = 60 + i * 90;

		make_frame(frame, flen, 1000 + i);
		ASSERT_EQ(0, inject(&self->tap, frame, flen)) TH_LOG("%s", strerror(errno));
		ASSERT_EQ((ssize_t)(HDR_LEN + flen),
			  rx_packet(_metadata, self, bufs, got, sizeof(got), 0, &n))
			TH_LOG("frame %u", i);
		EXPECT_EQ(1, n);
		EXPECT_EQ(0, memcmp(frame, got + HDR_LEN, flen));
		/* The tap supplied a plain header: no offloads. */
		EXPECT_EQ(0, got[0]);
		EXPECT_EQ(VIRTIO_NET_HDR_GSO_NONE, got[1]);
	}
	EXPECT_LE(1, efd_count(self->q[VQ_RX].call, 1000));
}

TEST_F(vhost, rx_mergeable_buffers)
{
	uint8_t *bufs[RING] = { 0 }, frame[2048], got[4096];
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	size_t flen = 1000;
	int n;

	ASSERT_EQ(0, start(_metadata, self, f, RING, RING));
	rx_post(self, 32, 256, bufs);
	make_frame(frame, flen, 77);
	ASSERT_EQ(0, inject(&self->tap, frame, flen));
	/* 12 + 1000 bytes over 256-byte buffers: 4 buffers, the last one partly used. */
	ASSERT_EQ((ssize_t)(HDR_LEN + flen), rx_packet(_metadata, self, bufs, got, sizeof(got), 1, &n));
	/* num_buffers (offset 10, little-endian) told how many to merge. */
	EXPECT_EQ(4, n);
	EXPECT_EQ(0, memcmp(frame, got + HDR_LEN, flen));
}

TEST_F(vhost, rx_frame_too_big_for_buffer_is_dropped)
{
	uint8_t *bufs[RING] = { 0 }, frame[2048], got[4096];
	uint32_t id, len;
	int n;

	ASSERT_EQ(0, start(_metadata, self, 1ULL << VIRTIO_F_VERSION_1, RING, RING));
	rx_post(self, 1, 200, bufs);
	make_frame(frame, 500, 5);
	ASSERT_EQ(0, inject(&self->tap, frame, 500));
	EXPECT_EQ(0, dvq_get_used(&self->q[VQ_RX], 500, &id, &len));
	/* The buffer is still there for a frame that fits. */
	make_frame(frame, 150, 6);
	ASSERT_EQ(0, inject(&self->tap, frame, 150));
	ASSERT_EQ(HDR_LEN + 150, rx_packet(_metadata, self, bufs, got, sizeof(got), 0, &n));
	EXPECT_EQ(0, memcmp(frame, got + HDR_LEN, 150));
}

TEST_F(vhost, interrupt_suppression_without_event_idx)
{
	uint8_t frame[128], got[2048];
	uint32_t id, len;

	ASSERT_EQ(0, start(_metadata, self, 1ULL << VIRTIO_F_VERSION_1, RING, RING));
	self->q[VQ_TX].avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	for (int i = 0; i < 10; i++) {
		make_frame(frame, 100, i);
		tx_frame(self, frame, 100, 0);
		ASSERT_EQ(100, capture(&self->tap, got, sizeof(got), 3000));
		ASSERT_EQ(1, dvq_get_used(&self->q[VQ_TX], 3000, &id, &len));
	}
	EXPECT_EQ(0, efd_count(self->q[VQ_TX].call, 300));
	self->q[VQ_TX].avail->flags = 0;
	tx_frame(self, frame, 100, 0);
	ASSERT_EQ(100, capture(&self->tap, got, sizeof(got), 3000));
	EXPECT_LE(1, efd_count(self->q[VQ_TX].call, 3000));
}

/*
 * With interrupts on, the device signals as it completes, not only when the ring is empty:
 * vhost_net returns used entries and signals every 64 frames (VHOST_NET_BATCH), so a guest
 * whose ring is full gets buffers back while the device still works on the rest.
 */
TEST_F(vhost, tx_interrupts_during_a_long_run)
{
	uint8_t frame[128];
	struct dvq *q = &self->q[VQ_TX];
	uint32_t id, len;

	/* A 256-entry TX ring (the fixture's hold 64). */
	dvq_close(q);
	dvq_init(q, self->g.mem + RING_AREA / 2, 256);
	ASSERT_EQ(0, start(_metadata, self, 1ULL << VIRTIO_F_VERSION_1, RING, 256));
	make_frame(frame, 100, 0);
	for (int i = 0; i < 200; i++)
		tx_queue(self, frame, 100, 0);
	dvq_kick(q);
	for (int i = 0; i < 200; i++) {
		ASSERT_EQ(1, dvq_get_used(q, 3000, &id, &len)) TH_LOG("frame %d", i);
	}
	/* One kick, one run of 200 frames: at least 3 signals (64, 128, 192). */
	EXPECT_LE(3, efd_count(q->call, 1000));
	EXPECT_EQ(0, efd_count(q->err, 0));
}

TEST_F(vhost, interrupt_suppression_with_event_idx)
{
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX);
	uint8_t frame[128], got[2048];
	struct dvq *q = &self->q[VQ_TX];
	uint32_t id, len;

	ASSERT_EQ(0, start(_metadata, self, f, RING, RING));
	/* The first completion after start always interrupts. */
	make_frame(frame, 100, 0);
	tx_frame(self, frame, 100, 0);
	ASSERT_EQ(1, dvq_get_used(q, 3000, &id, &len));
	EXPECT_LE(1, efd_count(q->call, 3000));
	/* used_event far ahead: no interrupt for the next 10. */
	*dvq_used_event(q) = 100;
	for (int i = 1; i <= 10; i++) {
		make_frame(frame, 100, i);
		tx_frame(self, frame, 100, 0);
		ASSERT_EQ(100, capture(&self->tap, got, sizeof(got), 3000));
		ASSERT_EQ(1, dvq_get_used(q, 3000, &id, &len));
	}
	EXPECT_EQ(0, efd_count(q->call, 300));
	/* used_event just behind the used index: crossing it interrupts. */
	*dvq_used_event(q) = q->last_used;
	for (int i = 0; i < 3; i++) {
		tx_frame(self, frame, 100, 0);
		ASSERT_EQ(1, dvq_get_used(q, 3000, &id, &len));
	}
	EXPECT_LE(1, efd_count(q->call, 3000));
}

/* A malformed chain signals the error eventfd and is never completed. */
static void expect_tx_error(struct __test_metadata *_metadata, FIXTURE_DATA(vhost) *self)
{
	uint32_t id, len;

	dvq_kick(&self->q[VQ_TX]);
	EXPECT_LE(1, efd_count(self->q[VQ_TX].err, 3000));
	EXPECT_EQ(0, dvq_get_used(&self->q[VQ_TX], 300, &id, &len));
}

TEST_F(vhost, tx_buffer_outside_guest_memory)
{
	struct seg s = { GUEST_BASE + GUEST_SIZE + 4096, 100, 0 };

	ASSERT_EQ(0, start(_metadata, self, 1ULL << VIRTIO_F_VERSION_1, RING, RING));
	dvq_add(&self->q[VQ_TX], &self->g, &s, 1, 0);
	expect_tx_error(_metadata, self);
}

TEST_F(vhost, tx_looping_chain)
{
	struct dvq *q = &self->q[VQ_TX];
	uint8_t *buf;

	ASSERT_EQ(0, start(_metadata, self, 1ULL << VIRTIO_F_VERSION_1, RING, RING));
	buf = guest_alloc(&self->g, 128);
	q->desc[0] = (struct vring_desc){ gpa_of(&self->g, buf), 64, VRING_DESC_F_NEXT, 1 };
	q->desc[1] = (struct vring_desc){ gpa_of(&self->g, buf + 64), 64, VRING_DESC_F_NEXT, 0 };
	q->avail->ring[0] = 0;
	__atomic_store_n(&q->avail->idx, ++q->avail_idx, __ATOMIC_RELEASE);
	expect_tx_error(_metadata, self);
}

TEST_F(vhost, tx_avail_index_too_far_ahead)
{
	struct dvq *q = &self->q[VQ_TX];

	ASSERT_EQ(0, start(_metadata, self, 1ULL << VIRTIO_F_VERSION_1, RING, RING));
	__atomic_store_n(&q->avail->idx, RING + 5, __ATOMIC_RELEASE);
	expect_tx_error(_metadata, self);
}

/* ---------------------------------------------------------------- ring pages */


/* Transmits one @len-byte frame (seed @seed) and expects it on the tap and its used entry. */
static void tx_one(struct __test_metadata *_metadata, FIXTURE_DATA(vhost) *self, size_t len,
		   unsigned int seed)
{
	uint8_t frame[2048], got[2048];
	uint32_t id, used_len;

	make_frame(frame, len, seed);
	tx_frame(self, frame, len, seed % 3);
	ASSERT_EQ((ssize_t)len, capture(&self->tap, got, sizeof(got), 3000)) TH_LOG("seed %u", seed);
	EXPECT_EQ(0, memcmp(frame, got, len));
	ASSERT_EQ(1, dvq_get_used(&self->q[VQ_TX], 3000, &id, &used_len));
}

/*
 * Ours pins and kernel-maps the rings of an attached queue (at least a page each for the
 * descriptor table, avail and used rings of both queues); detaching, a new memory table (the
 * rings are mapped again: as many pins), resetting the owner and closing give every pin
 * back. The C vhost_net reads its rings with user copies: no pins at all.
 */
TEST_F(vhost, rings_pinned)
{
	int ours = !strcmp(variant->module, "vhost_net_rs");
	long before = pinned_pages(), attached;

	ASSERT_LE(0, before) TH_LOG("no vm/stat_refresh or nr_foll_pin_* in /proc/vmstat");
	ASSERT_EQ(0, start(_metadata, self, 1ULL << VIRTIO_F_VERSION_1, RING, RING));
	tx_one(_metadata, self, 100, 1);
	attached = pinned_pages();
	if (ours) {
		EXPECT_LE(before + 6, attached);
	} else {
		EXPECT_EQ(before, attached);
	}

	ASSERT_EQ(0, set_backend(self->fd, VQ_RX, -1));
	ASSERT_EQ(0, set_backend(self->fd, VQ_TX, -1));
	EXPECT_EQ(before, pinned_pages());
	ASSERT_EQ(0, set_backend(self->fd, VQ_RX, self->tap.fd));
	ASSERT_EQ(0, set_backend(self->fd, VQ_TX, self->tap.fd));
	EXPECT_EQ(attached, pinned_pages());
	tx_one(_metadata, self, 200, 2);

	ASSERT_EQ(0, vhost_mem_table(self->fd, &self->g, GUEST_BASE, GUEST_SIZE));
	EXPECT_EQ(attached, pinned_pages());
	tx_one(_metadata, self, 300, 3);

	ASSERT_EQ(0, ioctl(self->fd, VHOST_RESET_OWNER));
	EXPECT_EQ(before, pinned_pages());

	/* A fresh device, closed with both backends attached. */
	close(self->fd);
	self->fd = open(variant->dev, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	tap_close(&self->tap);
	self->have_tap = 0;
	for (int i = 0; i < 2; i++) {
		dvq_close(&self->q[i]);
		dvq_init(&self->q[i], self->g.mem + i * (RING_AREA / 2), RING);
	}
	ASSERT_EQ(0, start(_metadata, self, 1ULL << VIRTIO_F_VERSION_1, RING, RING));
	tx_one(_metadata, self, 400, 4);
	EXPECT_EQ(attached, pinned_pages());
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(before, pinned_pages());
}

/*
 * The owner replaces the guest memory holding the attached rings (new pages at the same
 * addresses, same contents), then sets the memory table again, as a device model does after
 * remapping guest memory: the device must serve the rings' new pages, not pages it pinned
 * before (frames would never be seen, nor completed), on TX and on RX.
 */
TEST_F(vhost, mem_table_remaps_rings)
{
	uint8_t *bufs[RING] = { 0 }, frame[2048], got[4096];
	uint8_t *copy = malloc(RING_AREA);
	int n;

	ASSERT_NE(NULL, copy);
	ASSERT_EQ(0, start(_metadata, self, 1ULL << VIRTIO_F_VERSION_1, RING, RING));
	tx_one(_metadata, self, 100, 10);
	/* Let the worker finish its run (it may still write the rings' flags or events). */
	usleep(100000);
	memcpy(copy, self->g.mem, RING_AREA);
	ASSERT_EQ(self->g.mem, mmap(self->g.mem, RING_AREA, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	memcpy(self->g.mem, copy, RING_AREA);
	free(copy);
	ASSERT_EQ(0, vhost_mem_table(self->fd, &self->g, GUEST_BASE, GUEST_SIZE));
	for (unsigned int i = 0; i < 8; i++)
		tx_one(_metadata, self, 100 + 50 * i, 11 + i);
	rx_post(self, 8, 2048, bufs);
	for (unsigned int i = 0; i < 4; i++) {
		size_t flen = 60 + i * 300;

		make_frame(frame, flen, 2000 + i);
		ASSERT_EQ(0, inject(&self->tap, frame, flen)) TH_LOG("%s", strerror(errno));
		ASSERT_EQ((ssize_t)(HDR_LEN + flen),
			  rx_packet(_metadata, self, bufs, got, sizeof(got), 0, &n))
			TH_LOG("frame %u", i);
		EXPECT_EQ(0, memcmp(frame, got + HDR_LEN, flen));
	}
}

TEST_HARNESS_MAIN
