// SPDX-License-Identifier: GPL-2.0
/*
 * RAM SET_MEMSEG of VM_PFNMAP memory, for the HSM that $HSM_MODULE names: a MAP_SHARED mapping
 * of /dev/mem (remap_pfn_range: VM_PFNMAP | VM_IO; STRICT_DEVMEM allows the low 1 MiB) is
 * mapped as one write-back region of its physical memory, nothing pinned (upstream
 * acrn_vm_ram_map()). Checked: write access to a read-only mapping (-EFAULT), a range past the
 * VMA (-EINVAL), the BIOS ROM area (reserved in the e820, so the hypervisor refuses it as
 * write-back memory, -EINVAL), and a page of low RAM that a real-mode guest reads back.
 */
#include "kselftest_harness.h"
#include "hsm_vm.h"
#include "selftests/hypervisor/test_dm.h"

#define BIOS_PA		0xf0000ul	/* e820 reserved (SeaBIOS), Linux "System ROM" */
#define LOW_RAM_PA	0x0ul		/* e820 RAM, reserved by Linux: the real-mode IVT */
#define PFN_GPA		0x20000ul	/* where the guest sees the /dev/mem page */
#define RAM_LEN		0x10000ul
#define CODE_GPA	0x1000ul
#define PORT_DWORD	0x1230
#define PORT_SUM	0x1231
#define PORT_DONE	0x12fe
#define DWORDS		16

#define GUEST(name) extern const unsigned char name##_start[], name##_end[]
GUEST(hpfn);

__asm__(
	".pushsection .rodata.hsm_pfnmap_guests, \"a\"\n"
	".code16\n"
	/* Out the first 16 dwords at PFN_GPA, then the 16-bit word sum of its page; done. */
	"hpfn_start:\n"
	"	mov $0x2000, %ax\n"
	"	mov %ax, %ds\n"
	"	xor %si, %si\n"
	"	mov $0x1230, %dx\n"
	"	mov $16, %cx\n"
	"1:	movl (%si), %eax\n"
	"	out %eax, %dx\n"
	"	add $4, %si\n"
	"	loop 1b\n"
	"	xor %si, %si\n"
	"	xor %bx, %bx\n"
	"	mov $2048, %cx\n"
	"2:	add (%si), %bx\n"
	"	add $2, %si\n"
	"	loop 2b\n"
	"	mov %bx, %ax\n"
	"	mov $0x1231, %dx\n"
	"	out %ax, %dx\n"
	"	xor %ax, %ax\n"
	"	mov %ax, %ds\n"
	"	mov $0x12fe, %dx\n"
	"	out %al, %dx\n"
	"3:	cli\n"
	"	hlt\n"
	"	jmp 3b\n"
	"hpfn_end:\n"
	".code64\n"
	".popsection\n");

struct seen {
	__u32 dwords[DWORDS];
	int ndwords;
	__u32 sum;
	int nsum;
};

static int handler(struct tdm_vm *vm, struct tdm_req *q, void *arg)
{
	struct seen *s = arg;

	if (q->type != ACRN_IOREQ_TYPE_PORTIO || q->dir != ACRN_IOREQ_DIR_WRITE)
		return 0;
	switch (q->addr) {
	case PORT_DWORD:
		if (s->ndwords < DWORDS)
			s->dwords[s->ndwords] = q->value;
		s->ndwords++;
		return 0;
	case PORT_SUM:
		s->sum = q->value & 0xffff;
		s->nsum++;
		return 0;
	case PORT_DONE:
		return 1;
	}
	return 0;
}

FIXTURE(pfnmap) {
	struct tdm_vm vm;
	int mem;
	void *map;
};

FIXTURE_SETUP(pfnmap)
{
	int ret;

	self->vm.fd = -1;
	self->mem = -1;
	self->map = MAP_FAILED;
	SKIP_UNLESS_ACRN_RS();
	if (getuid())
		SKIP(return, "needs root");
	ret = hsm_load();
	ASSERT_EQ(0, ret) TH_LOG("%s.ko: %s", hsm_module(), strerror(-ret));
	/* No O_SYNC: a write-back mapping, as for RAM. */
	self->mem = open("/dev/mem", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->mem) TH_LOG("/dev/mem: %s (CONFIG_DEVMEM?)", strerror(errno));
	ret = tdm_create(&self->vm, "hsm-pfnmap", 0);
	ASSERT_EQ(0, ret) TH_LOG("CREATE_VM: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(pfnmap)
{
	struct hv_counters h;

	if (self->vm.fd >= 0)
		EXPECT_EQ(0, tdm_destroy(&self->vm));
	if (self->map != MAP_FAILED)
		munmap(self->map, PAGE);
	if (self->mem >= 0)
		close(self->mem);
	if (!is_acrn_rs())
		return;
	hv_counters(&h);
	EXPECT_EQ(0u, h.vms);
	EXPECT_EQ(0u, h.regions);
	kmod_unload(hsm_module());
}

/* Maps one page of /dev/mem at @pa with @prot, shared; the address or MAP_FAILED. */
static void *devmem_page(int mem, __u64 pa, int prot)
{
	return mmap(NULL, PAGE, prot, MAP_SHARED, mem, pa);
}

/* SET_MEMSEG of RAM: @len bytes at user address @va to PFN_GPA with @attr; 0 or -errno. */
static int memseg(struct tdm_vm *vm, void *va, __u64 len, __u32 attr)
{
	struct acrn_vm_memmap m = {
		.type = ACRN_MEMMAP_RAM,
		.attr = attr,
		.user_vm_pa = PFN_GPA,
		.vma_base = (__u64)(unsigned long)va,
		.len = len,
	};

	return err(ioctl(vm->fd, ACRN_IOCTL_SET_MEMSEG, &m));
}

TEST_F(pfnmap, write_to_readonly_pte)
{
	long pins = pinned_pages();

	self->map = devmem_page(self->mem, BIOS_PA, PROT_READ);
	ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap /dev/mem: %s", strerror(errno));
	EXPECT_EQ(-EFAULT, memseg(&self->vm, self->map, PAGE, ACRN_MEM_ACCESS_RWX));
	EXPECT_EQ(-EFAULT, memseg(&self->vm, self->map, PAGE, ACRN_MEM_ACCESS_WRITE));
	/* Not pinned instead: a read-only VM_PFNMAP page can not be pinned for writing. */
	EXPECT_EQ(pins, pinned_pages());
}

TEST_F(pfnmap, past_vma_end)
{
	self->map = devmem_page(self->mem, BIOS_PA, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap /dev/mem: %s", strerror(errno));
	EXPECT_EQ(-EINVAL, memseg(&self->vm, self->map, 2 * PAGE, ACRN_MEM_ACCESS_RWX));
	EXPECT_EQ(-EINVAL, memseg(&self->vm, self->map, PAGE + 1, ACRN_MEM_ACCESS_READ));
}

/*
 * The HSM accepts the BIOS area (reserved, contiguous, writable); our hypervisor refuses it:
 * write-back regions must be Service VM RAM, non-RAM only uncached
 * (hypervisor/README.md, deviations from ACRN: mixed memory types for one physical page).
 */
TEST_F(pfnmap, bios_rom_is_not_ram)
{
	self->map = devmem_page(self->mem, BIOS_PA, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap /dev/mem: %s", strerror(errno));
	EXPECT_EQ(-EINVAL, memseg(&self->vm, self->map, PAGE, ACRN_MEM_ACCESS_RWX));
}

/* Low RAM: mapped into the guest, which reads back what the DM sees through /dev/mem. */
TEST_F(pfnmap, guest_reads_low_ram)
{
	struct seen seen = { 0 };
	struct hv_counters before, after;
	__u16 sum = 0;
	long pins;
	int i, nonzero = 0;

	ASSERT_EQ(0, tdm_map_ram(&self->vm, RAM_LEN));
	ASSERT_EQ(0, tdm_load(&self->vm, CODE_GPA, hpfn_start, hpfn_end - hpfn_start));
	ASSERT_EQ(0, tdm_regs_real(&self->vm, CODE_GPA));
	self->map = devmem_page(self->mem, LOW_RAM_PA, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap /dev/mem: %s", strerror(errno));
	pins = pinned_pages();
	hv_counters(&before);
	ASSERT_EQ(0, memseg(&self->vm, self->map, PAGE, ACRN_MEM_ACCESS_RWX));
	hv_counters(&after);
	EXPECT_EQ(before.regions + 1, after.regions);
	EXPECT_EQ(pins, pinned_pages());

	ASSERT_EQ(0, tdm_run(&self->vm, handler, &seen, 30000));
	ASSERT_EQ(DWORDS, seen.ndwords);
	ASSERT_EQ(1, seen.nsum);
	for (i = 0; i < DWORDS; i++) {
		__u32 v = ((volatile __u32 *)self->map)[i];

		nonzero += v != 0;
		EXPECT_EQ(v, seen.dwords[i]) TH_LOG("dword %d", i);
	}
	for (i = 0; i < (int)(PAGE / 2); i++)
		sum += ((volatile __u16 *)self->map)[i];
	EXPECT_EQ(sum, seen.sum);
	/* Else the comparison would not tell this page from a zeroed one. */
	EXPECT_LT(0, nonzero);
}

TEST_HARNESS_MAIN
