// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the acrn-rs kernel extensions (rust/: misc device, per-file state, typed ioctl
 * arguments) through the sample module acrn_rs_sample_misc.ko and /dev/acrn_rs_sample.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "acrn_rs_kmod.h"
#include "samples/rust_misc/acrn_rs_sample.h"

#define MODULE_NAME "acrn_rs_sample_misc"
#define DEV_PATH "/dev/acrn_rs_sample"

static int open_dev(void)
{
	return open(DEV_PATH, O_RDWR | O_CLOEXEC);
}

static int get_value(int fd, __u64 *value)
{
	return ioctl(fd, ACRN_RS_SAMPLE_GET, value);
}

TEST(load_creates_device_and_unload_removes_it)
{
	struct stat st;

	if (getuid())
		SKIP(return, "needs root");
	if (kmod_loaded(MODULE_NAME))
		ASSERT_EQ(0, kmod_unload(MODULE_NAME));
	ASSERT_NE(0, stat(DEV_PATH, &st));

	ASSERT_EQ(0, kmod_load(MODULE_NAME));
	ASSERT_TRUE(kmod_loaded(MODULE_NAME));
	ASSERT_EQ(0, stat(DEV_PATH, &st)) TH_LOG("%s - no device node", strerror(errno));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(-EEXIST, kmod_load(MODULE_NAME));

	ASSERT_EQ(0, kmod_unload(MODULE_NAME));
	EXPECT_FALSE(kmod_loaded(MODULE_NAME));
	EXPECT_NE(0, stat(DEV_PATH, &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-ENOENT, kmod_unload(MODULE_NAME));
}

TEST(open_file_pins_module)
{
	int fd;

	if (getuid())
		SKIP(return, "needs root");
	ASSERT_EQ(0, kmod_ensure_loaded(MODULE_NAME));
	fd = open_dev();
	ASSERT_LE(0, fd) TH_LOG("%s - open", strerror(errno));
	/* The file operations hold a module reference: unloading must fail, not oops. */
	EXPECT_EQ(-EWOULDBLOCK, kmod_unload(MODULE_NAME));
	EXPECT_TRUE(kmod_loaded(MODULE_NAME));
	close(fd);
	EXPECT_EQ(0, kmod_unload(MODULE_NAME));
	EXPECT_EQ(0, kmod_load(MODULE_NAME));
}

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	if (getuid())
		SKIP(return, "needs root");
	ASSERT_EQ(0, kmod_ensure_loaded(MODULE_NAME));
	self->fd = open_dev();
	ASSERT_LE(0, self->fd) TH_LOG("%s - open " DEV_PATH, strerror(errno));
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(dev, new_file_starts_at_zero)
{
	__u64 v = 0xdead;

	ASSERT_EQ(0, get_value(self->fd, &v));
	EXPECT_EQ(0, v);
}

TEST_F(dev, set_get_round_trip)
{
	static const __u64 values[] = { 1, 0x7f, 0x1234567890abcdefULL, UINT64_MAX, 0 };
	__u64 v;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		ASSERT_EQ(0, ioctl(self->fd, ACRN_RS_SAMPLE_SET, &values[i]));
		ASSERT_EQ(0, get_value(self->fd, &v));
		EXPECT_EQ(values[i], v);
	}
}

TEST_F(dev, state_is_per_file)
{
	__u64 a = 11, b = 22, v;
	int fd2 = open_dev();

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, ioctl(self->fd, ACRN_RS_SAMPLE_SET, &a));
	ASSERT_EQ(0, ioctl(fd2, ACRN_RS_SAMPLE_SET, &b));
	ASSERT_EQ(0, get_value(self->fd, &v));
	EXPECT_EQ(a, v);
	ASSERT_EQ(0, get_value(fd2, &v));
	EXPECT_EQ(b, v);
	close(fd2);
}

TEST_F(dev, xchg_returns_previous_value)
{
	struct acrn_rs_sample_xchg x = { .value = 5, .old = 99 };
	__u64 v;

	ASSERT_EQ(0, ioctl(self->fd, ACRN_RS_SAMPLE_XCHG, &x));
	EXPECT_EQ(0, x.old);
	EXPECT_EQ(5, x.value);
	x.value = 6;
	ASSERT_EQ(0, ioctl(self->fd, ACRN_RS_SAMPLE_XCHG, &x));
	EXPECT_EQ(5, x.old);
	ASSERT_EQ(0, get_value(self->fd, &v));
	EXPECT_EQ(6, v);
}

TEST_F(dev, add_by_value_and_overflow)
{
	__u64 v = UINT64_MAX - 1;

	ASSERT_EQ(0, ioctl(self->fd, ACRN_RS_SAMPLE_ADD, 40UL));
	ASSERT_EQ(0, ioctl(self->fd, ACRN_RS_SAMPLE_ADD, 2UL));
	ASSERT_EQ(0, get_value(self->fd, &v));
	EXPECT_EQ(42, v);

	v = UINT64_MAX - 1;
	ASSERT_EQ(0, ioctl(self->fd, ACRN_RS_SAMPLE_SET, &v));
	EXPECT_EQ(-1, ioctl(self->fd, ACRN_RS_SAMPLE_ADD, 2UL));
	EXPECT_EQ(EOVERFLOW, errno);
	/* A failed command leaves the state intact. */
	ASSERT_EQ(0, get_value(self->fd, &v));
	EXPECT_EQ(UINT64_MAX - 1, v);
}

TEST_F(dev, unknown_commands_get_enotty)
{
	__u64 v = 0;
	/* Same number, other direction or size: a different command. */
	const unsigned long cmds[] = {
		_IO(ACRN_RS_SAMPLE_TYPE, 0x05),
		_IOW(ACRN_RS_SAMPLE_TYPE, 0x00, __u32),
		_IOR(ACRN_RS_SAMPLE_TYPE, 0x00, __u64),
		_IOWR(ACRN_RS_SAMPLE_TYPE, 0x01, __u64),
		_IOW(0xA2, 0x00, __u64),
		0,
		0xffffffffUL,
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], &v)) TH_LOG("cmd %#lx", cmds[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd %#lx", cmds[i]);
	}
}

TEST_F(dev, bad_pointers_get_efault_and_keep_state)
{
	__u64 good = 77, v;
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, ioctl(self->fd, ACRN_RS_SAMPLE_SET, &good));

	EXPECT_EQ(-1, ioctl(self->fd, ACRN_RS_SAMPLE_SET, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, ACRN_RS_SAMPLE_SET, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	/* A kernel address is not a user pointer. */
	EXPECT_EQ(-1, ioctl(self->fd, ACRN_RS_SAMPLE_SET, (void *)0xffffffff81000000UL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, ACRN_RS_SAMPLE_GET, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, ACRN_RS_SAMPLE_GET, ro));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, ACRN_RS_SAMPLE_XCHG, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	/* Readable but not writable: the copy in works, the copy out fails and is undone. */
	EXPECT_EQ(-1, ioctl(self->fd, ACRN_RS_SAMPLE_XCHG, ro));
	EXPECT_EQ(EFAULT, errno);

	ASSERT_EQ(0, get_value(self->fd, &v));
	EXPECT_EQ(good, v);
	munmap(ro, 4096);
}

TEST_F(dev, release_runs_for_every_file)
{
	int base = ioctl(self->fd, ACRN_RS_SAMPLE_OPEN_FILES);
	int fds[32];

	ASSERT_LE(1, base);
	for (int i = 0; i < 32; i++) {
		fds[i] = open_dev();
		ASSERT_LE(0, fds[i]);
	}
	EXPECT_EQ(base + 32, ioctl(self->fd, ACRN_RS_SAMPLE_OPEN_FILES));
	/* A dup shares the file: no second open, no second release. */
	int dupfd = dup(fds[0]);
	EXPECT_EQ(base + 32, ioctl(self->fd, ACRN_RS_SAMPLE_OPEN_FILES));
	for (int i = 0; i < 32; i++)
		close(fds[i]);
	EXPECT_EQ(base + 1, ioctl(self->fd, ACRN_RS_SAMPLE_OPEN_FILES));
	close(dupfd);
	EXPECT_EQ(base, ioctl(self->fd, ACRN_RS_SAMPLE_OPEN_FILES));
}

#define THREADS 8
#define ADDS_PER_THREAD 2000

static void *adder(void *arg)
{
	int fd = *(int *)arg;

	for (int i = 0; i < ADDS_PER_THREAD; i++)
		if (ioctl(fd, ACRN_RS_SAMPLE_ADD, 1UL))
			return (void *)1;
	return NULL;
}

static void *opener(void *arg)
{
	for (int i = 0; i < ADDS_PER_THREAD / 4; i++) {
		int fd = open_dev();
		__u64 v = i;

		if (fd < 0 || ioctl(fd, ACRN_RS_SAMPLE_SET, &v) || close(fd))
			return (void *)1;
	}
	return NULL;
}

TEST_F(dev, concurrent_ioctls_and_opens)
{
	pthread_t t[2 * THREADS];
	int base = ioctl(self->fd, ACRN_RS_SAMPLE_OPEN_FILES);
	__u64 v;
	void *ret;

	for (int i = 0; i < THREADS; i++) {
		ASSERT_EQ(0, pthread_create(&t[i], NULL, adder, &self->fd));
		ASSERT_EQ(0, pthread_create(&t[THREADS + i], NULL, opener, NULL));
	}
	for (int i = 0; i < 2 * THREADS; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &ret));
		EXPECT_EQ(NULL, ret);
	}
	ASSERT_EQ(0, get_value(self->fd, &v));
	EXPECT_EQ(THREADS * ADDS_PER_THREAD, v);
	EXPECT_EQ(base, ioctl(self->fd, ACRN_RS_SAMPLE_OPEN_FILES));
}

TEST_HARNESS_MAIN
