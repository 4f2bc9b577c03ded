// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the acrn-rs kernel extensions (rust/: misc device, per-file state, typed ioctl
 * arguments) through the sample module acrn_rs_sample_misc.ko and /dev/acrn_rs_sample.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
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

/* ---------------------------------------------------------------- kick / worker / call */

static int set_kick(int fd, int kick, int call, volatile void *counter)
{
	struct acrn_rs_sample_kick k = {
		.kick_fd = kick,
		.call_fd = call,
		.counter_addr = (uintptr_t)counter,
	};

	return ioctl(fd, ACRN_RS_SAMPLE_SET_KICK, &k);
}

static int kick(int efd)
{
	uint64_t one = 1;

	return write(efd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

/* Waits up to @ms for the eventfd to be signalled; returns its count (0 on timeout). */
static uint64_t wait_call(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t count;

	if (poll(&p, 1, ms) != 1 || read(efd, &count, sizeof(count)) != sizeof(count))
		return 0;
	return count;
}

TEST_F(dev, kick_runs_worker_in_owner_mm_and_signals_call)
{
	int k = eventfd(0, EFD_CLOEXEC), c = eventfd(0, EFD_CLOEXEC);
	volatile __u64 counter = 0;

	ASSERT_LE(0, k);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, set_kick(self->fd, k, c, &counter));
	/* One kick at a time: each gives exactly one run, which updates our memory. */
	for (int i = 0; i < 500; i++) {
		ASSERT_EQ(0, kick(k));
		ASSERT_EQ(1, wait_call(c, 5000)) TH_LOG("kick %d: no call", i);
		ASSERT_EQ(i + 1, counter);
	}
	EXPECT_EQ(0, ioctl(self->fd, ACRN_RS_SAMPLE_FAULTS));
	ASSERT_EQ(0, set_kick(self->fd, -1, -1, NULL));
	close(k);
	close(c);
}

TEST_F(dev, kick_pending_before_hook_runs_at_once)
{
	int k = eventfd(0, EFD_CLOEXEC), c = eventfd(0, EFD_CLOEXEC);
	volatile __u64 counter = 0;

	ASSERT_EQ(0, kick(k));
	ASSERT_EQ(0, set_kick(self->fd, k, c, &counter));
	EXPECT_EQ(1, wait_call(c, 5000));
	EXPECT_EQ(1, counter);
	close(k);
	close(c);
}

TEST_F(dev, kick_with_bad_counter_address_faults_cleanly)
{
	volatile __u64 *addrs[] = { (void *)8, (void *)0xffffffff81000000UL };

	for (int i = 0; i < 2; i++) {
		/* Fresh eventfds: a hooked kick eventfd with a count fires at once (as vhost). */
		int k = eventfd(0, EFD_CLOEXEC), c = eventfd(0, EFD_CLOEXEC);

		ASSERT_EQ(0, set_kick(self->fd, k, c, addrs[i]));
		ASSERT_EQ(0, kick(k));
		EXPECT_EQ(1, wait_call(c, 5000));
		EXPECT_EQ(1, ioctl(self->fd, ACRN_RS_SAMPLE_FAULTS));
		close(k);
		close(c);
	}
}

TEST_F(dev, kick_bad_fds_are_refused_and_keep_the_old_path)
{
	int k = eventfd(0, EFD_CLOEXEC), c = eventfd(0, EFD_CLOEXEC);
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int regular = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	volatile __u64 counter = 0;

	ASSERT_LE(0, devnull);
	ASSERT_LE(0, regular);
	ASSERT_EQ(0, set_kick(self->fd, k, c, &counter));

	EXPECT_EQ(-1, set_kick(self->fd, k, -1, &counter));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, set_kick(self->fd, k, 9999, &counter));
	EXPECT_EQ(EBADF, errno);
	/* A call fd must be an eventfd. */
	EXPECT_EQ(-1, set_kick(self->fd, k, devnull, &counter));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_kick(self->fd, 9999, c, &counter));
	EXPECT_EQ(EBADF, errno);
	/* A kick fd must be pollable: a regular file is not. */
	EXPECT_EQ(-1, set_kick(self->fd, regular, c, &counter));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, ACRN_RS_SAMPLE_SET_KICK, NULL));
	EXPECT_EQ(EFAULT, errno);

	/* The path set before the failures still works. */
	ASSERT_EQ(0, kick(k));
	EXPECT_EQ(1, wait_call(c, 5000));
	EXPECT_EQ(1, counter);
	close(k);
	close(c);
	close(devnull);
	close(regular);
}

TEST_F(dev, kick_unbind_and_replace)
{
	int k1 = eventfd(0, EFD_CLOEXEC), c1 = eventfd(0, EFD_CLOEXEC);
	int k2 = eventfd(0, EFD_CLOEXEC), c2 = eventfd(0, EFD_CLOEXEC);
	volatile __u64 a = 0, b = 0;

	ASSERT_EQ(0, set_kick(self->fd, k1, c1, &a));
	ASSERT_EQ(0, set_kick(self->fd, k2, c2, &b));
	/* The old path is gone: its kick does nothing. */
	ASSERT_EQ(0, kick(k1));
	EXPECT_EQ(0, wait_call(c1, 300));
	EXPECT_EQ(0, a);
	ASSERT_EQ(0, kick(k2));
	EXPECT_EQ(1, wait_call(c2, 5000));
	EXPECT_EQ(1, b);
	/* Unbound: nothing runs. */
	ASSERT_EQ(0, set_kick(self->fd, -1, -1, NULL));
	ASSERT_EQ(0, kick(k2));
	EXPECT_EQ(0, wait_call(c2, 300));
	EXPECT_EQ(1, b);
	close(k1);
	close(c1);
	close(k2);
	close(c2);
}

TEST_F(dev, closing_file_with_active_kick_stops_it)
{
	int k = eventfd(0, EFD_CLOEXEC), c = eventfd(0, EFD_CLOEXEC);
	int fd2 = open_dev();
	volatile __u64 counter = 0;

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, set_kick(fd2, k, c, &counter));
	for (int i = 0; i < 50; i++)
		ASSERT_EQ(0, kick(k));
	/*
	 * The release stops the worker after its current run; kicks still pending then are
	 * dropped, so anywhere from 0 to 50 runs happened. After close() returns, none more.
	 */
	close(fd2);
	__u64 seen = counter;

	EXPECT_GE(50, seen);
	/* Consume the calls signalled before the close (one per run). */
	EXPECT_EQ(seen, wait_call(c, 0));
	ASSERT_EQ(0, kick(k));
	EXPECT_EQ(0, wait_call(c, 300));
	EXPECT_EQ(seen, counter);
	close(k);
	close(c);
}

struct kicker {
	int efd;
	int n;
};

static void *kicker_thread(void *arg)
{
	struct kicker *kk = arg;

	for (int i = 0; i < kk->n; i++)
		if (kick(kk->efd))
			return (void *)1;
	return NULL;
}

TEST_F(dev, concurrent_kicks_coalesce_but_every_run_calls_once)
{
	int k = eventfd(0, EFD_CLOEXEC), c = eventfd(0, EFD_CLOEXEC);
	struct kicker kk = { .efd = k, .n = 500 };
	volatile __u64 counter = 0;
	uint64_t calls = 0, got;
	pthread_t t[4];
	void *ret;

	ASSERT_EQ(0, set_kick(self->fd, k, c, &counter));
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, kicker_thread, &kk));
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &ret));
		EXPECT_EQ(NULL, ret);
	}
	while ((got = wait_call(c, 500)))
		calls += got;
	/* Runs coalesce (at most one per kick), and each run calls exactly once. */
	EXPECT_EQ(calls, counter);
	EXPECT_LE(1, counter);
	EXPECT_GE(4 * 500, counter);
	EXPECT_EQ(0, ioctl(self->fd, ACRN_RS_SAMPLE_FAULTS));
	close(k);
	close(c);
}

TEST_HARNESS_MAIN
