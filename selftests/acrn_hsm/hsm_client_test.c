// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel I/O request client API of acrn_hsm.ko, through samples/hsm_client
 * (acrn_hsm_client_sample.ko, which claims two ranges of four ports of a VM): requests in its
 * ranges go to it and are completed in the kernel, at once or deferred; others go to the
 * device model; after the sample is unloaded its ports are the device model's again. The
 * sample reads and writes guest RAM through acrn_hsm_vm_map_guest() (checksums compared with
 * the DM's view of the same memory), which refuses ranges outside one RAM segment and keeps
 * the pages pinned while the sample holds the VM, even after the VM is destroyed. acrn.ko
 * exports no such API: skipped there.
 */
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "hsm_vm.h"
#include "selftests/hypervisor/test_dm.h"

#define SAMPLE "acrn_hsm_client_sample"
#define PORT 0x7000
#define MEM_GPA 0x100000ul
#define MEM_LEN 0x4000ul	/* four pages */
#define SUM_LEN 64		/* the sample's mem_len */

/* Loads the sample with @params; 0 or -errno. */
static int sample_load(const char *params)
{
	const char *path = kmod_path(SAMPLE);
	int fd, ret;

	if (!path)
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(__NR_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

static unsigned long sample_param(const char *name)
{
	char path[256];
	unsigned long v = ~0ul;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", SAMPLE, name);
	f = fopen(path, "r");
	if (!f)
		return v;
	if (fscanf(f, "%lu", &v) != 1)
		v = ~0ul;
	fclose(f);
	return v;
}

/* Writes @val to the sample's parameter @name; 0 or -errno. */
static int sample_param_set(const char *name, const char *val)
{
	char path[256];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", SAMPLE, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The sample's checksum: FNV-1a over @len bytes. */
static __u32 fnv1a(const __u8 *p, size_t len)
{
	__u32 sum = 2166136261u;

	while (len--)
		sum = (sum ^ *p++) * 16777619u;
	return sum;
}

/* @len bytes of fresh anonymous memory as guest RAM at @gpa; the memory or NULL. */
static __u8 *map_ram(struct hsm_vm *vm, __u64 gpa, size_t len)
{
	struct acrn_vm_memmap m = {
		.type = ACRN_MEMMAP_RAM, .attr = ACRN_MEM_ACCESS_RWX, .user_vm_pa = gpa, .len = len,
	};
	__u8 *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	m.vma_base = (unsigned long)p;
	if (ioctl(vm->fd, ACRN_IOCTL_SET_MEMSEG, &m)) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

/* Has the sample checksum the guest memory at @gpa through a request; 0 or -1. */
static int sum_by_request(struct hsm_vm *vm, __u64 gpa)
{
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_WRITE, PORT + 4, 4, gpa);
	if (hsm_kick() || hsm_wait_dispatched(vm, 0) != ACRN_IOREQ_STATE_COMPLETE ||
	    !hsm_slot(vm, 0)->kernel_handled)
		return -1;
	hsm_free_slot(vm, 0);
	return 0;
}

/* Has the sample checksum the guest memory at @gpa from process context; 0 or -errno. */
static int sum_by_probe(__u64 gpa)
{
	char v[32];

	snprintf(v, sizeof(v), "%#llx", (unsigned long long)gpa);
	return sample_param_set("probe_gpa", v);
}

FIXTURE(client) {
	struct hsm_vm vm;
};

FIXTURE_SETUP(client)
{
	char params[64];
	int ret;

	self->vm.fd = -1;
	SKIP_UNLESS_ACRN_RS();
	if (getuid())
		SKIP(return, "needs root");
	if (!hsm_is_ours())
		SKIP(return, "acrn.ko exports no client API to modules");
	if (kmod_loaded(SAMPLE))
		kmod_unload(SAMPLE);
	ret = hsm_load();
	ASSERT_EQ(0, ret) TH_LOG("%s.ko: %s", hsm_module(), strerror(-ret));
	/* No VM with that id: the sample's acrn_hsm_vm_get() finds none. */
	EXPECT_EQ(-ENODEV, sample_load("vmid=0x7fff"));
	ASSERT_EQ(0, hsm_vm_create(&self->vm, "hsm-client"));
	ASSERT_EQ(0, err(ioctl(self->vm.fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)));
	snprintf(params, sizeof(params), "vmid=%u port=%u", self->vm.cv.vmid, PORT);
	ASSERT_EQ(0, sample_load(params));
}

FIXTURE_TEARDOWN(client)
{
	struct hv_counters h;

	if (self->vm.fd < 0)
		return;
	if (kmod_loaded(SAMPLE))
		EXPECT_EQ(0, kmod_unload(SAMPLE));
	EXPECT_EQ(0, hsm_vm_destroy(&self->vm));
	hv_counters(&h);
	EXPECT_EQ(0u, h.vms);
	kmod_unload(hsm_module());
}

TEST_F(client, requests_in_range)
{
	struct hsm_vm *vm = &self->vm;
	struct acrn_io_request *req = hsm_slot(vm, 0);

	/* The sample holds a reference: acrn_hsm.ko can not go first. */
	EXPECT_NE(0, kmod_unload(hsm_module()));

	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_READ, PORT + 1, 2, 0);
	ASSERT_EQ(0, hsm_kick());
	ASSERT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(1u, req->kernel_handled);
	EXPECT_EQ(0xc0ffee00u, req->reqs.pio_request.value);

	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_WRITE, PORT + 2, 2, 0x1234);
	ASSERT_EQ(0, hsm_kick());
	ASSERT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(0x1234ul, sample_param("last_write"));

	/* Deferred: PROCESSING until the sample's work item completes it. */
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_WRITE, PORT, 4, 0xdefe);
	ASSERT_EQ(0, hsm_kick());
	hsm_wait_dispatched(vm, 0);
	usleep(100000);
	EXPECT_EQ(ACRN_IOREQ_STATE_COMPLETE, hsm_slot_state(vm, 0));
	EXPECT_EQ(0xdefeul, sample_param("last_write"));

	/* An access that runs past the range is the device model's. */
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_READ, PORT + 3, 2, 0);
	ASSERT_EQ(0, hsm_kick());
	ASSERT_EQ(ACRN_IOREQ_STATE_PROCESSING, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(0u, req->kernel_handled);
	EXPECT_EQ(0, err(ioctl(vm->fd, ACRN_IOCTL_CLEAR_VM_IOREQ, 0)));
}

TEST_F(client, unload_gives_ports_back)
{
	struct hsm_vm *vm = &self->vm;

	ASSERT_EQ(0, kmod_unload(SAMPLE));
	hsm_post_pio(vm, 0, ACRN_IOREQ_DIR_READ, PORT, 4, 0);
	ASSERT_EQ(0, hsm_kick());
	ASSERT_EQ(ACRN_IOREQ_STATE_PROCESSING, hsm_wait_dispatched(vm, 0));
	EXPECT_EQ(0u, hsm_slot(vm, 0)->kernel_handled);
	EXPECT_EQ(0, err(ioctl(vm->fd, ACRN_IOCTL_CLEAR_VM_IOREQ, 0)));
}

TEST_F(client, guest_memory)
{
	struct hsm_vm *vm = &self->vm;
	/* Offsets: in the first page, across a page boundary, ending at the last byte. */
	static const __u64 offs[] = { 0x100, 0xff0, 0x2fe3, MEM_LEN - SUM_LEN - 4 };
	__u8 *ram, *ram2;
	__u32 sum;
	size_t i;

	ram = map_ram(vm, MEM_GPA, MEM_LEN);
	ASSERT_NE(NULL, ram);
	for (i = 0; i < MEM_LEN; i++)
		ram[i] = i * 7 + (i >> 8) + 3;
	ASSERT_EQ((unsigned long)SUM_LEN, sample_param("mem_len"));

	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		__u8 *p = ram + offs[i];

		ASSERT_EQ(0, sum_by_request(vm, MEM_GPA + offs[i])) TH_LOG("offset %#llx", offs[i]);
		EXPECT_EQ(0ul, sample_param("mem_err"));
		sum = fnv1a(p, SUM_LEN);
		EXPECT_EQ((unsigned long)sum, sample_param("mem_sum")) TH_LOG("offset %#llx", offs[i]);
		/* Written back by the sample, little endian, right after the bytes it read. */
		EXPECT_EQ(sum, p[SUM_LEN] | p[SUM_LEN + 1] << 8 | p[SUM_LEN + 2] << 16 |
			       (__u32)p[SUM_LEN + 3] << 24);
	}

	/* Live memory, not a copy: the DM changes a byte, the next sum sees it. */
	ram[0x100] ^= 0xff;
	ASSERT_EQ(0, sum_by_probe(MEM_GPA + 0x100));
	EXPECT_EQ(0ul, sample_param("mem_err"));
	EXPECT_EQ((unsigned long)fnv1a(ram + 0x100, SUM_LEN), sample_param("mem_sum"));

	/* One byte past the segment, below it, no RAM at all, wrapping: refused. */
	ASSERT_EQ(0, sum_by_request(vm, MEM_GPA + MEM_LEN - SUM_LEN - 3));
	EXPECT_EQ((unsigned long)-EFAULT, sample_param("mem_err"));
	ASSERT_EQ(0, sum_by_probe(MEM_GPA - 4));
	EXPECT_EQ((unsigned long)-EFAULT, sample_param("mem_err"));
	ASSERT_EQ(0, sum_by_probe(0x100));
	EXPECT_EQ((unsigned long)-EFAULT, sample_param("mem_err"));
	ASSERT_EQ(0, sum_by_probe(~0ull - 16));
	EXPECT_EQ((unsigned long)-EINVAL, sample_param("mem_err"));

	/* A second segment right after the first: each is mapped, a range across both is not. */
	ram2 = map_ram(vm, MEM_GPA + MEM_LEN, PAGE);
	ASSERT_NE(NULL, ram2);
	memset(ram2, 0x5a, PAGE);
	ASSERT_EQ(0, sum_by_probe(MEM_GPA + MEM_LEN));
	EXPECT_EQ(0ul, sample_param("mem_err"));
	EXPECT_EQ((unsigned long)fnv1a(ram2, SUM_LEN), sample_param("mem_sum"));
	ASSERT_EQ(0, sum_by_probe(MEM_GPA + MEM_LEN - 8));
	EXPECT_EQ((unsigned long)-EFAULT, sample_param("mem_err"));
}

/*
 * A VM destroyed under the sample: its client stops, its guest memory can not be mapped any
 * more but stays pinned until the sample drops the VM; unloading it later is clean.
 */
TEST_F(client, vm_destroyed_first)
{
	long pins_vm, pins_ram;
	__u8 *ram;

	pins_vm = pinned_pages();
	ASSERT_LE(0, pins_vm);
	ram = map_ram(&self->vm, MEM_GPA, MEM_LEN);
	ASSERT_NE(NULL, ram);
	pins_ram = pinned_pages();
	EXPECT_EQ(pins_vm + (long)(MEM_LEN / PAGE), pins_ram);
	ASSERT_EQ(0, sum_by_probe(MEM_GPA));
	EXPECT_EQ(0ul, sample_param("mem_err"));

	EXPECT_EQ(0, hsm_vm_destroy(&self->vm));
	EXPECT_EQ(pins_ram, pinned_pages());
	ASSERT_EQ(0, sum_by_probe(MEM_GPA));
	EXPECT_EQ((unsigned long)-ENODEV, sample_param("mem_err"));
	EXPECT_EQ(0, kmod_unload(SAMPLE));
	/* The RAM and the request page are unpinned with the sample's reference. */
	EXPECT_EQ(pins_vm - 1, pinned_pages());
	self->vm.fd = -1;
	kmod_unload(hsm_module());
}

/*
 * With a real guest: it writes a pattern into its RAM, asks the sample for the checksum with
 * an `out` of the pattern's address to PORT + 4, reads the sum the sample wrote after the
 * pattern and reports it to the DM.
 */
#define G_RAM_LEN	0x10000ul
#define G_CODE		0x1000ul
#define G_DATA		0x6000ul
#define G_PORT_SUM	0x1230
#define G_PORT_DONE	0x12fe

extern const unsigned char hsum_start[], hsum_end[];
__asm__(
	".pushsection .rodata.hsm_client_guests, \"a\"\n"
	".code16\n"
	"hsum_start:\n"
	"	xor %ax, %ax\n"
	"	mov %ax, %ds\n"
	"	mov $0x6000, %di\n"
	"	mov $64, %cx\n"
	"	mov $5, %al\n"
	"1:	mov %al, (%di)\n"
	"	add $13, %al\n"
	"	inc %di\n"
	"	loop 1b\n"
	"	mov $0x7004, %dx\n"
	"	mov $0x6000, %eax\n"
	"	out %eax, %dx\n"
	"	movl 0x6040, %eax\n"
	"	mov $0x1230, %dx\n"
	"	out %eax, %dx\n"
	"	mov $0x12fe, %dx\n"
	"	out %al, %dx\n"
	"2:	cli\n"
	"	hlt\n"
	"	jmp 2b\n"
	"hsum_end:\n"
	".code64\n"
	".popsection\n");

struct sum_seen {
	__u32 sum;
	int nsum;
};

static int sum_handler(struct tdm_vm *vm, struct tdm_req *q, void *arg)
{
	struct sum_seen *s = arg;

	if (q->type != ACRN_IOREQ_TYPE_PORTIO || q->dir != ACRN_IOREQ_DIR_WRITE)
		return 0;
	if (q->addr == G_PORT_SUM) {
		s->sum = q->value;
		s->nsum++;
	}
	return q->addr == G_PORT_DONE;
}

FIXTURE(client_guest) {
	struct tdm_vm vm;
};

FIXTURE_SETUP(client_guest)
{
	int ret;

	self->vm.fd = -1;
	SKIP_UNLESS_ACRN_RS();
	if (getuid())
		SKIP(return, "needs root");
	if (!hsm_is_ours())
		SKIP(return, "acrn.ko exports no client API to modules");
	if (kmod_loaded(SAMPLE))
		kmod_unload(SAMPLE);
	ret = hsm_load();
	ASSERT_EQ(0, ret) TH_LOG("%s.ko: %s", hsm_module(), strerror(-ret));
	ret = tdm_create(&self->vm, "hsm-client-g", 0);
	ASSERT_EQ(0, ret) TH_LOG("CREATE_VM: %s", strerror(-ret));
	ASSERT_EQ(0, tdm_map_ram(&self->vm, G_RAM_LEN));
	ASSERT_EQ(0, tdm_load(&self->vm, G_CODE, hsum_start, hsum_end - hsum_start));
	ASSERT_EQ(0, tdm_regs_real(&self->vm, G_CODE));
}

FIXTURE_TEARDOWN(client_guest)
{
	struct hv_counters h;

	if (self->vm.fd < 0)
		return;
	if (kmod_loaded(SAMPLE))
		EXPECT_EQ(0, kmod_unload(SAMPLE));
	EXPECT_EQ(0, tdm_destroy(&self->vm));
	hv_counters(&h);
	EXPECT_EQ(0u, h.vms);
	kmod_unload(hsm_module());
}

TEST_F(client_guest, guest_asks_for_checksum)
{
	struct sum_seen seen = { 0 };
	__u8 pattern[SUM_LEN];
	char params[64];
	__u32 sum;
	int i;

	snprintf(params, sizeof(params), "vmid=%u port=%u", self->vm.vmid, PORT);
	ASSERT_EQ(0, sample_load(params));
	ASSERT_EQ(0, tdm_run(&self->vm, sum_handler, &seen, 30000));
	for (i = 0; i < SUM_LEN; i++)
		pattern[i] = 5 + 13 * i;
	/* The guest wrote the pattern (the DM sees it), the sample summed what the guest wrote. */
	EXPECT_EQ(0, memcmp(pattern, self->vm.ram + G_DATA, SUM_LEN));
	sum = fnv1a(pattern, SUM_LEN);
	EXPECT_EQ(0ul, sample_param("mem_err"));
	EXPECT_EQ((unsigned long)sum, sample_param("mem_sum"));
	/* The guest read the sum the sample wrote into its memory. */
	ASSERT_EQ(1, seen.nsum);
	EXPECT_EQ(sum, seen.sum);
	/* Only the guest's own ports reached the DM. */
	for (i = 0; i < self->vm.nlog; i++)
		EXPECT_NE(PORT + 4, self->vm.log[i].addr);
}

TEST_HARNESS_MAIN
