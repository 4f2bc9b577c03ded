// SPDX-License-Identifier: GPL-2.0
/*
 * User VMs running on the acrn-rs hypervisor, driven by a tiny device model (test_dm.h) on
 * the HSM that $HSM_MODULE names (acrn: the upstream C HSM, the default; acrn_hsm: ours,
 * SKIPped where it lacks the IOREQ ioctls). Tiny guests, assembled with this file, run in
 * real, 32-bit protected and 64-bit long mode and do port I/O of 1/2/4 bytes and MMIO of
 * 1/2/4(/8) bytes (mov, movzx, stos, or, and); every request must reach the device model with
 * the right port/address, width and value, and every value it returns must come back out of
 * the guest (the guest echoes reads to an echo port/address). Also: polling mode, an MSI
 * delivered through the guest's IVT, isolation (GPAs outside the VM's regions give MMIO
 * requests, never data; a User VM's vmcall gets #UD), and a guest looping with interrupts
 * off that must still be paused and destroyed.
 */
#include <stdlib.h>

#include "kselftest_harness.h"
#include "acrn_rs_kmod.h"
#include "acrn_hv.h"
#include "selftests/acrn_hsm/hsm_vm.h"
#include "test_dm.h"

#define RAM_LEN		0x10000ul	/* 64 KiB at GPA 0 */
#define CODE_GPA	0x1000ul
#define MMIO_DATA	0x20000ul	/* outside RAM: every access is an MMIO request */
#define MMIO_ECHO	0x20100ul
#define PORT_DATA	0x1230
#define PORT_ECHO	0x1234
#define PORT_EVENT	0x12f0
#define PORT_IRQ	0x12f1
#define PORT_UD		0x12f2
#define PORT_DONE	0x12fe
#define MSI_VECTOR	0x40
#define GUEST_FLAG_IO_COMPLETION_POLLING (1ull << 2)

/* What a read returns, by width. */
static const __u64 read_value[9] = {
	[1] = 0x81, [2] = 0x8282, [4] = 0x84838281, [8] = 0x8887868584838281ull,
};

/* Guests (GNU as, assembled with this file; loaded at CODE_GPA, position-independent). */
#define GUEST(name) extern const unsigned char name##_start[], name##_end[]
GUEST(g16);
GUEST(g32);
GUEST(g64);
GUEST(gmsi);
GUEST(gud);
GUEST(gloop);
GUEST(giso);
GUEST(girq);
GUEST(gbench);
GUEST(gpci);
GUEST(gtf);
extern const unsigned char girq_handler[];

__asm__(
	".pushsection .rodata.guests, \"a\"\n"
	/* Real mode: PIO 1/2/4 out, in + echo; MMIO through DS = 0x2000. */
	".code16\n"
	"g16_start:\n"
	"	mov $0x1230, %dx\n"
	"	mov $0x5a, %al\n"
	"	out %al, %dx\n"
	"	mov $0xa55a, %ax\n"
	"	out %ax, %dx\n"
	"	mov $0xdeadbeef, %eax\n"
	"	out %eax, %dx\n"
	"	in %dx, %al\n"
	"	mov $0x1234, %dx\n"
	"	out %al, %dx\n"
	"	mov $0x1230, %dx\n"
	"	in %dx, %ax\n"
	"	mov $0x1234, %dx\n"
	"	out %ax, %dx\n"
	"	mov $0x1230, %dx\n"
	"	in %dx, %eax\n"
	"	mov $0x1234, %dx\n"
	"	out %eax, %dx\n"
	"	mov $0x2000, %bx\n"
	"	mov %bx, %ds\n"
	"	movb $0x5a, 0x0\n"
	"	movw $0xa55a, 0x0\n"
	"	movl $0xdeadbeef, 0x0\n"
	"	mov 0x0, %al\n"
	"	mov %al, 0x100\n"
	"	mov 0x0, %cx\n"
	"	mov %cx, 0x100\n"
	"	mov 0x0, %ebx\n"
	"	mov %ebx, 0x100\n"
	"	xor %bx, %bx\n"
	"	mov %bx, %ds\n"
	"	mov $0x12fe, %dx\n"
	"	out %al, %dx\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n"
	"g16_end:\n"
	/* 32-bit protected mode, paging off: PIO, MMIO incl. movzx. */
	".code32\n"
	"g32_start:\n"
	"	mov $0x1230, %dx\n"
	"	mov $0x5a, %al\n"
	"	out %al, %dx\n"
	"	mov $0xa55a, %ax\n"
	"	out %ax, %dx\n"
	"	mov $0xdeadbeef, %eax\n"
	"	out %eax, %dx\n"
	"	in %dx, %al\n"
	"	mov $0x1234, %dx\n"
	"	out %al, %dx\n"
	"	mov $0x1230, %dx\n"
	"	in %dx, %ax\n"
	"	mov $0x1234, %dx\n"
	"	out %ax, %dx\n"
	"	mov $0x1230, %dx\n"
	"	in %dx, %eax\n"
	"	mov $0x1234, %dx\n"
	"	out %eax, %dx\n"
	"	movb $0x5a, 0x20000\n"
	"	movw $0xa55a, 0x20000\n"
	"	movl $0xdeadbeef, 0x20000\n"
	"	mov 0x20000, %cl\n"
	"	mov %cl, 0x20100\n"
	"	mov 0x20000, %si\n"
	"	mov %si, 0x20100\n"
	"	mov 0x20000, %edi\n"
	"	mov %edi, 0x20100\n"
	"	movzbl 0x20000, %ebp\n"
	"	mov %ebp, 0x20100\n"
	"	mov $0x12fe, %dx\n"
	"	out %al, %dx\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n"
	"g32_end:\n"
	/* 64-bit long mode: PIO, MMIO 1/2/4/8, stos, or, and. */
	".code64\n"
	"g64_start:\n"
	"	mov $0x1230, %dx\n"
	"	mov $0x5a, %al\n"
	"	out %al, %dx\n"
	"	mov $0xa55a, %ax\n"
	"	out %ax, %dx\n"
	"	mov $0xdeadbeef, %eax\n"
	"	out %eax, %dx\n"
	"	in %dx, %al\n"
	"	mov $0x1234, %dx\n"
	"	out %al, %dx\n"
	"	mov $0x1230, %dx\n"
	"	in %dx, %ax\n"
	"	mov $0x1234, %dx\n"
	"	out %ax, %dx\n"
	"	mov $0x1230, %dx\n"
	"	in %dx, %eax\n"
	"	mov $0x1234, %dx\n"
	"	out %eax, %dx\n"
	"	mov $0x20000, %ebx\n"
	"	movb $0x5a, (%rbx)\n"
	"	movw $0xa55a, (%rbx)\n"
	"	movl $0xdeadbeef, (%rbx)\n"
	"	movabs $0x1122334455667788, %rax\n"
	"	mov %rax, (%rbx)\n"
	"	mov (%rbx), %r9b\n"
	"	mov %r9b, 0x100(%rbx)\n"
	"	mov (%rbx), %r10w\n"
	"	mov %r10w, 0x100(%rbx)\n"
	"	mov (%rbx), %r11d\n"
	"	mov %r11d, 0x100(%rbx)\n"
	"	mov (%rbx), %r12\n"
	"	mov %r12, 0x100(%rbx)\n"
	"	mov %rbx, %rdi\n"
	"	mov $0x77, %al\n"
	"	cld\n"
	"	stosb\n"
	"	orl $0xf0, (%rbx)\n"
	"	andw $0x0ff0, (%rbx)\n"
	"	mov %rdi, %rax\n"
	"	mov %rax, 0x100(%rbx)\n"
	"	mov $0x12fe, %dx\n"
	"	out %al, %dx\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n"
	"g64_end:\n"
	/* Real mode: IVT[0x40] = handler, STI, report ready, HLT; the handler reports. */
	".code16\n"
	"gmsi_start:\n"
	"	xor %ax, %ax\n"
	"	mov %ax, %ds\n"
	"	movw $(0x1000 + gmsi_handler - gmsi_start), 0x100\n"
	"	movw $0, 0x102\n"
	"	sti\n"
	"	mov $0x12f0, %dx\n"
	"	out %al, %dx\n"
	"1:	hlt\n"
	"	jmp 1b\n"
	"gmsi_handler:\n"
	"	mov $0x12f1, %dx\n"
	"	mov $0x40, %al\n"
	"	out %al, %dx\n"
	"	iret\n"
	"gmsi_end:\n"
	/* Real mode: IVT[6] = #UD handler, then vmcall. */
	"gud_start:\n"
	"	xor %ax, %ax\n"
	"	mov %ax, %ds\n"
	"	movw $(0x1000 + gud_handler - gud_start), 0x18\n"
	"	movw $0, 0x1a\n"
	"	vmcall\n"
	"	mov $0x12f2, %dx\n"
	"	mov $0xbb, %al\n"
	"	out %al, %dx\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n"
	"gud_handler:\n"
	"	mov $0x12f2, %dx\n"
	"	mov $0x06, %al\n"
	"	out %al, %dx\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n"
	"gud_end:\n"
	/* Real mode: report ready, then loop forever with interrupts off. */
	"gloop_start:\n"
	"	cli\n"
	"	mov $0x12f0, %dx\n"
	"	out %al, %dx\n"
	"1:	jmp 1b\n"
	"gloop_end:\n"
	/* 32-bit: read each address in EBX, ESI, EDI, EBP and echo it. */
	".code32\n"
	"giso_start:\n"
	"	mov (%ebx), %eax\n"
	"	mov %eax, 0x20100\n"
	"	mov (%esi), %eax\n"
	"	mov %eax, 0x20100\n"
	"	mov (%edi), %eax\n"
	"	mov %eax, 0x20100\n"
	"	mov (%ebp), %eax\n"
	"	mov %eax, 0x20100\n"
	"	mov $0x12fe, %dx\n"
	"	out %al, %dx\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n"
	"giso_end:\n"
	/* 32-bit: IOAPIC pin 5 -> vector 0x45 to APIC id 0, read back, STI, ready, HLT. */
	"girq_start:\n"
	"	movl $0x1a, 0xfec00000\n"
	"	movl $0x45, 0xfec00010\n"
	"	movl $0x1b, 0xfec00000\n"
	"	movl $0, 0xfec00010\n"
	"	movl $0x1a, 0xfec00000\n"
	"	mov 0xfec00010, %eax\n"
	"	mov $0x1233, %dx\n"
	"	out %eax, %dx\n"
	"	sti\n"
	"	mov $0x12f0, %dx\n"
	"	out %al, %dx\n"
	"1:	hlt\n"
	"	jmp 1b\n"
	"girq_handler:\n"
	"	mov $0x12f1, %dx\n"
	"	mov $0x45, %al\n"
	"	out %al, %dx\n"
	"	iret\n"
	"girq_end:\n"
	/* Real mode: 2000 port writes, then done. */
	".code16\n"
	"gbench_start:\n"
	"	mov $2000, %cx\n"
	"	mov $0x1230, %dx\n"
	"1:	out %al, %dx\n"
	"	loop 1b\n"
	"	mov $0x12fe, %dx\n"
	"	out %al, %dx\n"
	"2:	cli\n"
	"	hlt\n"
	"	jmp 2b\n"
	"gbench_end:\n"
	/* Real mode: PCI configuration mechanism #1 through 0xCF8/0xCFC. */
	"gpci_start:\n"
	"	mov $0x80001810, %eax\n"
	"	mov $0xcf8, %dx\n"
	"	out %eax, %dx\n"
	"	xor %eax, %eax\n"
	"	in %dx, %eax\n"
	"	mov $0x1234, %dx\n"
	"	out %eax, %dx\n"
	"	mov $0xcfe, %dx\n"
	"	in %dx, %ax\n"
	"	mov $0x1234, %dx\n"
	"	out %ax, %dx\n"
	"	mov $0xcfc, %dx\n"
	"	mov $0xabcd1234, %eax\n"
	"	out %eax, %dx\n"
	"	mov $0x12fe, %dx\n"
	"	out %al, %dx\n"
	"2:	cli\n"
	"	hlt\n"
	"	jmp 2b\n"
	"gpci_end:\n"
	/* Real mode: ready, then an empty IVT and INT3: #GP, #DF, triple fault. */
	"gtf_start:\n"
	"	mov $0x12f0, %dx\n"
	"	out %al, %dx\n"
	"	xor %ax, %ax\n"
	"	mov %ax, %ds\n"
	"	lidtw 0x1000 + gtf_zero - gtf_start\n"
	"	int3\n"
	"	mov $0x12f2, %dx\n"
	"	mov $0xbb, %al\n"
	"	out %al, %dx\n"
	"2:	cli\n"
	"	hlt\n"
	"	jmp 2b\n"
	"gtf_zero:\n"
	"	.word 0\n"
	"	.long 0\n"
	"gtf_end:\n"
	".code64\n"
	".popsection\n");

/* Answers reads with read_value[], stops at PORT_DONE; PORT_EVENT / PORT_IRQ / PORT_UD go
 * to the test's own handlers through struct ctx. */
struct ctx {
	int events;
	int irqs;
	__u64 irq_value;
	int ud;
	__u64 ud_value;
	bool done_on_event;
	bool done_on_irq;
};

static int handler(struct tdm_vm *vm, struct tdm_req *q, void *arg)
{
	struct ctx *c = arg;

	if (q->dir == ACRN_IOREQ_DIR_READ) {
		q->value = q->size <= 8 ? read_value[q->size] : 0;
		return 0;
	}
	if (q->type != ACRN_IOREQ_TYPE_PORTIO)
		return 0;
	switch (q->addr) {
	case PORT_DONE:
		return 1;
	case PORT_EVENT:
		c->events++;
		return c->done_on_event;
	case PORT_IRQ:
		c->irqs++;
		c->irq_value = q->value;
		return c->done_on_irq;
	case PORT_UD:
		c->ud++;
		c->ud_value = q->value;
		return 1;
	}
	return 0;
}

struct want {
	__u32 type, dir;
	__u64 addr, size, value;
};

#define PIO_W(a, s, v)	{ ACRN_IOREQ_TYPE_PORTIO, ACRN_IOREQ_DIR_WRITE, a, s, v }
#define PIO_R(a, s)	{ ACRN_IOREQ_TYPE_PORTIO, ACRN_IOREQ_DIR_READ, a, s, read_value[s] }
#define MMIO_W(a, s, v)	{ ACRN_IOREQ_TYPE_MMIO, ACRN_IOREQ_DIR_WRITE, a, s, v }
#define MMIO_R(a, s)	{ ACRN_IOREQ_TYPE_MMIO, ACRN_IOREQ_DIR_READ, a, s, read_value[s] }

#define PIO_PART							\
	PIO_W(PORT_DATA, 1, 0x5a), PIO_W(PORT_DATA, 2, 0xa55a),		\
	PIO_W(PORT_DATA, 4, 0xdeadbeef),				\
	PIO_R(PORT_DATA, 1), PIO_W(PORT_ECHO, 1, 0x81),			\
	PIO_R(PORT_DATA, 2), PIO_W(PORT_ECHO, 2, 0x8282),		\
	PIO_R(PORT_DATA, 4), PIO_W(PORT_ECHO, 4, 0x84838281)

#define MMIO_WRITES							\
	MMIO_W(MMIO_DATA, 1, 0x5a), MMIO_W(MMIO_DATA, 2, 0xa55a),	\
	MMIO_W(MMIO_DATA, 4, 0xdeadbeef)

#define MMIO_READS							\
	MMIO_R(MMIO_DATA, 1), MMIO_W(MMIO_ECHO, 1, 0x81),		\
	MMIO_R(MMIO_DATA, 2), MMIO_W(MMIO_ECHO, 2, 0x8282),		\
	MMIO_R(MMIO_DATA, 4), MMIO_W(MMIO_ECHO, 4, 0x84838281)

static const struct want want16[] = {
	PIO_PART, MMIO_WRITES, MMIO_READS,
};

static const struct want want32[] = {
	PIO_PART, MMIO_WRITES, MMIO_READS,
	MMIO_R(MMIO_DATA, 1), MMIO_W(MMIO_ECHO, 4, 0x81),	/* movzbl */
};

static const struct want want64[] = {
	PIO_PART, MMIO_WRITES,
	MMIO_W(MMIO_DATA, 8, 0x1122334455667788ull),
	MMIO_READS,
	MMIO_R(MMIO_DATA, 8), MMIO_W(MMIO_ECHO, 8, 0x8887868584838281ull),
	MMIO_W(MMIO_DATA, 1, 0x77),				/* stosb */
	MMIO_R(MMIO_DATA, 4), MMIO_W(MMIO_DATA, 4, 0x848382f1),	/* orl $0xf0 */
	MMIO_R(MMIO_DATA, 2), MMIO_W(MMIO_DATA, 2, 0x0280),	/* andw $0x0ff0 */
	MMIO_W(MMIO_ECHO, 8, MMIO_DATA + 1),			/* RDI after stosb */
};

FIXTURE(vm) {
	struct hv_counters before;
	struct tdm_vm vm;
	struct ctx ctx;
};

FIXTURE_SETUP(vm)
{
	int ret;

	self->vm.fd = -1;
	SKIP_UNLESS_ACRN_RS();
	if (getuid())
		SKIP(return, "needs root");
	ret = hsm_load();
	ASSERT_EQ(0, ret) TH_LOG("%s.ko: %s", hsm_module(), strerror(-ret));
	hv_counters(&self->before);
	ASSERT_EQ(0u, self->before.vms) TH_LOG("User VMs left over from an earlier test");
}

FIXTURE_TEARDOWN(vm)
{
	struct hv_counters after;

	if (!is_acrn_rs() || getuid())
		return;
	if (self->vm.fd >= 0)
		EXPECT_EQ(0, tdm_destroy(&self->vm));
	hv_counters(&after);
	EXPECT_EQ(0u, after.vms);
	EXPECT_EQ(0u, after.regions);
	EXPECT_EQ(self->before.npt_frames, after.npt_frames) TH_LOG("page-table frames leaked");
	kmod_unload(hsm_module());
}

/* Creates the VM with RAM and @guest at CODE_GPA; SKIPs when the HSM has no IOREQ client. */
static int setup_vm(struct __test_metadata *_metadata, struct tdm_vm *vm, const char *name,
		    __u64 flags, const unsigned char *start, const unsigned char *end)
{
	ASSERT_EQ(0, tdm_create(vm, name, flags)) return -1;
	ASSERT_EQ(0, tdm_map_ram(vm, RAM_LEN)) return -1;
	ASSERT_EQ(0, tdm_load(vm, CODE_GPA, start, end - start)) return -1;
	if (ioctl(vm->fd, ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)) {
		if (errno == ENOTTY)
			return 1;
		ASSERT_EQ(0, errno) return -1;
	}
	vm->client = true;
	return 0;
}

#define SETUP(name, flags, g)						\
	do {								\
		int r_ = setup_vm(_metadata, &self->vm, name, flags,	\
				  g##_start, g##_end);			\
		if (r_ > 0)						\
			SKIP(return, "%s has no IOREQ client ioctls", hsm_module()); \
		ASSERT_EQ(0, r_);					\
	} while (0)

static void check_log(struct __test_metadata *_metadata, struct tdm_vm *vm,
		      const struct want *w, int n)
{
	/* The last request is the write to PORT_DONE. */
	ASSERT_EQ(n + 1, vm->nlog);
	for (int i = 0; i < n; i++) {
		const struct tdm_req *q = &vm->log[i];

		EXPECT_EQ(w[i].type, q->type) TH_LOG("request %d", i);
		EXPECT_EQ(w[i].dir, q->dir) TH_LOG("request %d", i);
		EXPECT_EQ(w[i].addr, q->addr) TH_LOG("request %d", i);
		EXPECT_EQ(w[i].size, q->size) TH_LOG("request %d", i);
		EXPECT_EQ(w[i].value, q->value) TH_LOG("request %d: %#llx", i,
						      (unsigned long long)q->value);
	}
	EXPECT_EQ(PORT_DONE, vm->log[n].addr);
}

TEST_F(vm, real_mode_pio_and_mmio)
{
	SETUP("hv-run16", 0, g16);
	ASSERT_EQ(0, tdm_regs_real(&self->vm, CODE_GPA));
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 10000));
	check_log(_metadata, &self->vm, want16, ARRAY_SIZE(want16));
}

TEST_F(vm, protected_mode_pio_and_mmio)
{
	SETUP("hv-run32", 0, g32);
	ASSERT_EQ(0, tdm_regs_prot32(&self->vm, CODE_GPA));
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 10000));
	check_log(_metadata, &self->vm, want32, ARRAY_SIZE(want32));
}

TEST_F(vm, long_mode_pio_and_mmio)
{
	SETUP("hv-run64", 0, g64);
	ASSERT_EQ(0, tdm_regs_long64(&self->vm, CODE_GPA));
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 10000));
	check_log(_metadata, &self->vm, want64, ARRAY_SIZE(want64));
}

/* 0xCF8/0xCFC leave the hypervisor as PORTIO; the HSM keeps CONFIG_ADDRESS and turns the
 * data port into PCICFG requests (dev 3, reg 0x10 + offset). */
static const struct want want_pci[] = {
	PIO_W(PORT_ECHO, 4, 0x80001810),
	{ ACRN_IOREQ_TYPE_PCICFG, ACRN_IOREQ_DIR_READ, 3 << 11 | 0x12, 2, 0x8282 },
	PIO_W(PORT_ECHO, 2, 0x8282),
	{ ACRN_IOREQ_TYPE_PCICFG, ACRN_IOREQ_DIR_WRITE, 3 << 11 | 0x10, 4, 0xabcd1234 },
};

TEST_F(vm, pci_config_ports_become_pcicfg)
{
	SETUP("hv-pci", 0, gpci);
	ASSERT_EQ(0, tdm_regs_real(&self->vm, CODE_GPA));
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 10000));
	check_log(_metadata, &self->vm, want_pci, ARRAY_SIZE(want_pci));
}

TEST_F(vm, polling_mode)
{
	SETUP("hv-poll", GUEST_FLAG_IO_COMPLETION_POLLING, g16);
	ASSERT_EQ(0, tdm_regs_real(&self->vm, CODE_GPA));
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 10000));
	check_log(_metadata, &self->vm, want16, ARRAY_SIZE(want16));
}

TEST_F(vm, reset_and_run_again)
{
	SETUP("hv-reset", 0, g16);
	ASSERT_EQ(0, tdm_regs_real(&self->vm, CODE_GPA));
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 10000));
	ASSERT_EQ(0, ioctl(self->vm.fd, ACRN_IOCTL_PAUSE_VM, 0));
	ASSERT_EQ(0, ioctl(self->vm.fd, ACRN_IOCTL_RESET_VM, 0));
	ASSERT_EQ(0, tdm_regs_real(&self->vm, CODE_GPA));
	self->vm.nlog = 0;
	self->vm.done = 0;
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 10000));
	check_log(_metadata, &self->vm, want16, ARRAY_SIZE(want16));
}

TEST_F(vm, msi_reaches_the_guest)
{
	long end;

	SETUP("hv-msi", 0, gmsi);
	ASSERT_EQ(0, tdm_regs_real(&self->vm, CODE_GPA));
	self->ctx.done_on_event = true;
	self->ctx.done_on_irq = true;
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 10000));
	ASSERT_EQ(1, self->ctx.events);
	EXPECT_EQ(0, self->ctx.irqs) TH_LOG("interrupt before any MSI");
	self->vm.done = 0;
	/* Destination APIC id 0 (vCPU 0), fixed, vector 0x40. */
	ASSERT_EQ(0, tdm_inject_msi(&self->vm, 0xfee00000, MSI_VECTOR));
	for (end = tdm_now_ms() + 10000; !self->vm.done && tdm_now_ms() < end;)
		usleep(1000);
	ASSERT_EQ(1, self->ctx.irqs);
	EXPECT_EQ(MSI_VECTOR, self->ctx.irq_value);
	/* An MSI outside the 0xFEEx_xxxx window is refused. */
	EXPECT_NE(0, tdm_inject_msi(&self->vm, 0xfed00000, MSI_VECTOR));
}

TEST_F(vm, irqline_through_the_vioapic)
{
	struct acrn_regs r;
	long end;

	SETUP("hv-irqline", 0, girq);
	tdm_init_prot32(&self->vm, &r, CODE_GPA);
	r.idt.base = 0x6000;
	r.idt.limit = 0x7ff;
	ASSERT_EQ(0, tdm_idt32_gate(&self->vm, 0x6000, 0x45,
				    CODE_GPA + (girq_handler - girq_start)));
	ASSERT_EQ(0, tdm_set_regs(&self->vm, &r));
	self->ctx.done_on_event = true;
	self->ctx.done_on_irq = true;
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 10000));
	ASSERT_EQ(1, self->ctx.events);
	/* The redirection entry read back through IOREGSEL/IOWIN, never an IOREQ. */
	ASSERT_EQ(2, self->vm.nlog);
	EXPECT_EQ(0x1233, self->vm.log[0].addr);
	EXPECT_EQ(0x45, self->vm.log[0].value);
	/* Pin 6 is masked: nothing arrives. */
	self->vm.done = 0;
	ASSERT_EQ(0, tdm_set_irqline(&self->vm, 6, 2));
	usleep(200000);
	EXPECT_EQ(0, self->ctx.irqs);
	/* Pin 5: a raising pulse is one interrupt. */
	ASSERT_EQ(0, tdm_set_irqline(&self->vm, 5, 2));
	for (end = tdm_now_ms() + 10000; !self->vm.done && tdm_now_ms() < end;)
		usleep(1000);
	ASSERT_EQ(1, self->ctx.irqs);
	EXPECT_EQ(0x45, self->ctx.irq_value);
}

TEST_F(vm, vmcall_from_user_vm_is_ud)
{
	SETUP("hv-vmcall", 0, gud);
	ASSERT_EQ(0, tdm_regs_real(&self->vm, CODE_GPA));
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 10000));
	EXPECT_EQ(1, self->ctx.ud);
	EXPECT_EQ(6, self->ctx.ud_value) TH_LOG("vmcall did not fault with #UD");
}

TEST_F(vm, gpas_outside_regions_are_mmio_never_data)
{
	struct hv_counters h;
	struct acrn_regs r;
	__u64 addrs[4];

	hv_counters(&h);
	SETUP("hv-iso", 0, giso);
	/* Just past the RAM, hypervisor memory, the Service VM's kernel (16 MiB) and RAM. */
	addrs[0] = RAM_LEN;
	addrs[1] = h.hv_start;
	addrs[2] = 0x1000000;
	addrs[3] = 0x8000000;
	tdm_init_prot32(&self->vm, &r, CODE_GPA);
	r.gprs.rbx = addrs[0];
	r.gprs.rsi = addrs[1];
	r.gprs.rdi = addrs[2];
	r.gprs.rbp = addrs[3];
	ASSERT_EQ(0, tdm_set_regs(&self->vm, &r));
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 10000));
	ASSERT_EQ(9, self->vm.nlog);
	for (int i = 0; i < 4; i++) {
		struct tdm_req *rd = &self->vm.log[2 * i], *echo = &self->vm.log[2 * i + 1];

		EXPECT_EQ(ACRN_IOREQ_TYPE_MMIO, rd->type);
		EXPECT_EQ(ACRN_IOREQ_DIR_READ, rd->dir);
		EXPECT_EQ(addrs[i], rd->addr);
		EXPECT_EQ(MMIO_ECHO, echo->addr);
		EXPECT_EQ(read_value[4], echo->value) TH_LOG("GPA %#llx gave the guest data",
							     (unsigned long long)addrs[i]);
	}
}

TEST_F(vm, triple_fault_stops_the_vcpu_only)
{
	struct tdm_vm next;
	struct ctx c = { 0 };
	int r;

	SETUP("hv-triple", 0, gtf);
	ASSERT_EQ(0, tdm_regs_real(&self->vm, CODE_GPA));
	self->ctx.done_on_event = true;
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 10000));
	ASSERT_EQ(1, self->ctx.events);
	usleep(200000);
	EXPECT_EQ(0, self->ctx.ud) TH_LOG("the guest went on after the triple fault");
	EXPECT_EQ(0, tdm_destroy(&self->vm));
	/* The pCPU is free for the next VM. */
	r = setup_vm(_metadata, &next, "hv-after-triple", 0, g16_start, g16_end);
	ASSERT_EQ(0, r);
	ASSERT_EQ(0, tdm_regs_real(&next, CODE_GPA));
	EXPECT_EQ(0, tdm_run(&next, handler, &c, 10000));
	check_log(_metadata, &next, want16, ARRAY_SIZE(want16));
	EXPECT_EQ(0, tdm_destroy(&next));
}

TEST_F(vm, looping_guest_is_paused_and_destroyed)
{
	struct hv_counters h;

	SETUP("hv-loop", 0, gloop);
	ASSERT_EQ(0, tdm_regs_real(&self->vm, CODE_GPA));
	self->ctx.done_on_event = true;
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 10000));
	ASSERT_EQ(1, self->ctx.events);
	usleep(100000);
	/* The guest spins with interrupts off: PAUSE must still take the pCPU back. */
	EXPECT_EQ(0, ioctl(self->vm.fd, ACRN_IOCTL_PAUSE_VM, 0));
	EXPECT_EQ(0, tdm_destroy(&self->vm));
	hv_counters(&h);
	EXPECT_EQ(0u, h.vms);
}

/* Not a pass/fail measure: logs the IOREQ round trip (guest out → HSM → device model →
 * NOTIFY_REQUEST_FINISH or polling → guest) under emulation. */
static void bench(struct __test_metadata *_metadata, struct tdm_vm *vm, struct ctx *c,
		  const char *mode)
{
	long t0;

	ASSERT_EQ(0, tdm_regs_real(vm, CODE_GPA));
	t0 = tdm_now_ms();
	ASSERT_EQ(0, tdm_run(vm, handler, c, 60000));
	ASSERT_EQ(2001, vm->served);
	TH_LOG("%s: 2000 port writes in %ld ms (%ld us per IOREQ)", mode, tdm_now_ms() - t0,
	       (tdm_now_ms() - t0) * 1000 / 2000);
}

TEST_F(vm, ioreq_round_trip_time)
{
	SETUP("hv-bench", 0, gbench);
	bench(_metadata, &self->vm, &self->ctx, "notify");
}

TEST_F(vm, ioreq_round_trip_time_polling)
{
	SETUP("hv-bench-poll", GUEST_FLAG_IO_COMPLETION_POLLING, gbench);
	bench(_metadata, &self->vm, &self->ctx, "polling");
}

TEST_HARNESS_MAIN
