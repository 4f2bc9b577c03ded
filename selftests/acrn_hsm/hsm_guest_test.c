// SPDX-License-Identifier: GPL-2.0
/*
 * The HSM's I/O paths with a running guest, driven by the tiny device model of
 * selftests/hypervisor/test_dm.h, for the HSM that $HSM_MODULE names: ioeventfd kicks from
 * guest port and MMIO writes (signalled and completed in the kernel, never seen by the DM),
 * irqfd (an eventfd write becomes an MSI in the guest; none after DEASSIGN), and a DM killed
 * while it holds a guest's request (the VM is torn down, every page unpinned).
 */
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "hsm_vm.h"
#include "selftests/hypervisor/test_dm.h"

#define RAM_LEN		0x10000ul
#define CODE_GPA	0x1000ul
#define KICK_PORT	0x5000
#define KICK_MMIO	0x30000ul	/* outside RAM: MMIO requests */
#define PORT_DATA	0x1230
#define PORT_EVENT	0x12f0
#define PORT_IRQ	0x12f1
#define PORT_DONE	0x12fe
#define MSI_VECTOR	0x40
#define KICKS		100

#define GUEST(name) extern const unsigned char name##_start[], name##_end[]
GUEST(hkick);
GUEST(hirq);
GUEST(hhold);

__asm__(
	".pushsection .rodata.hsm_guests, \"a\"\n"
	".code16\n"
	/* KICKS port writes of 7 to KICK_PORT, KICKS MMIO writes to KICK_MMIO, then done. */
	"hkick_start:\n"
	"	mov $100, %cx\n"
	"	mov $0x5000, %dx\n"
	"	mov $7, %ax\n"
	"1:	out %ax, %dx\n"
	"	loop 1b\n"
	"	mov $0x3000, %bx\n"
	"	mov %bx, %ds\n"
	"	mov $100, %cx\n"
	"2:	movl $0x12345678, 0x0\n"
	"	loop 2b\n"
	"	xor %bx, %bx\n"
	"	mov %bx, %ds\n"
	"	mov $0x12fe, %dx\n"
	"	out %al, %dx\n"
	"3:	cli\n"
	"	hlt\n"
	"	jmp 3b\n"
	"hkick_end:\n"
	/* IVT[0x40] = handler writing the vector to PORT_IRQ; an event, then wait. */
	"hirq_start:\n"
	"	xor %ax, %ax\n"
	"	mov %ax, %ds\n"
	"	movw $(0x1000 + hirq_handler - hirq_start), 0x100\n"
	"	movw $0, 0x102\n"
	"	sti\n"
	"	mov $0x12f0, %dx\n"
	"	out %al, %dx\n"
	"1:	hlt\n"
	"	jmp 1b\n"
	"hirq_handler:\n"
	"	mov $0x12f1, %dx\n"
	"	mov $0x40, %al\n"
	"	out %al, %dx\n"
	"	mov $0x12f0, %dx\n"
	"	out %al, %dx\n"
	"	iret\n"
	"hirq_end:\n"
	/* One request the DM will never finish. */
	"hhold_start:\n"
	"	mov $0x1230, %dx\n"
	"	out %al, %dx\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n"
	"hhold_end:\n"
	".code64\n"
	".popsection\n");

struct ctx {
	int events;
	int irqs;
	__u64 irq_value;
	int efd;		/* irqfd's eventfd, signalled on the first event */
	int done_after_irqs;
};

static int handler(struct tdm_vm *vm, struct tdm_req *q, void *arg)
{
	struct ctx *c = arg;
	__u64 one = 1;

	if (q->dir == ACRN_IOREQ_DIR_READ || q->type != ACRN_IOREQ_TYPE_PORTIO)
		return 0;
	switch (q->addr) {
	case PORT_DONE:
		return 1;
	case PORT_EVENT:
		/* The first event asks for an interrupt through the irqfd. */
		if (c->events++ == 0 && c->efd >= 0 && write(c->efd, &one, sizeof(one)) != 8)
			return 1;
		return 0;
	case PORT_IRQ:
		c->irqs++;
		c->irq_value = q->value;
		return c->irqs >= c->done_after_irqs;
	}
	return 0;
}

FIXTURE(guest) {
	struct tdm_vm vm;
	struct ctx ctx;
	int efd, efd2;
};

static void setup_guest(struct __test_metadata *_metadata, FIXTURE_DATA(guest) *self,
			const char *name, const unsigned char *start, const unsigned char *end)
{
	int ret = tdm_create(&self->vm, name, 0);

	ASSERT_EQ(0, ret) TH_LOG("CREATE_VM: %s", strerror(-ret));
	ASSERT_EQ(0, tdm_map_ram(&self->vm, RAM_LEN));
	ASSERT_EQ(0, tdm_load(&self->vm, CODE_GPA, start, end - start));
	ASSERT_EQ(0, tdm_regs_real(&self->vm, CODE_GPA));
}

FIXTURE_SETUP(guest)
{
	int ret;

	self->vm.fd = -1;
	self->efd = self->efd2 = -1;
	self->ctx.efd = -1;
	SKIP_UNLESS_ACRN_RS();
	if (getuid())
		SKIP(return, "needs root");
	ret = hsm_load();
	ASSERT_EQ(0, ret) TH_LOG("%s.ko: %s", hsm_module(), strerror(-ret));
	self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	self->efd2 = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, self->efd);
	ASSERT_LE(0, self->efd2);
}

FIXTURE_TEARDOWN(guest)
{
	struct hv_counters h;

	if (self->vm.fd >= 0)
		EXPECT_EQ(0, tdm_destroy(&self->vm));
	if (self->efd >= 0)
		close(self->efd);
	if (self->efd2 >= 0)
		close(self->efd2);
	if (!is_acrn_rs())
		return;
	hv_counters(&h);
	EXPECT_EQ(0u, h.vms);
	kmod_unload(hsm_module());
}

static __u64 efd_count(int efd)
{
	__u64 v = 0;

	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

TEST_F(guest, ioeventfd_kicks)
{
	struct acrn_ioeventfd pio = {
		.fd = self->efd, .addr = KICK_PORT, .len = 2, .data = 7,
		.flags = ACRN_IOEVENTFD_FLAG_PIO | ACRN_IOEVENTFD_FLAG_DATAMATCH,
	};
	struct acrn_ioeventfd mmio = { .fd = self->efd2, .addr = KICK_MMIO, .len = 4 };

	setup_guest(_metadata, self, "hsm-kick", hkick_start, hkick_end);
	ASSERT_EQ(0, err(ioctl(self->vm.fd, ACRN_IOCTL_IOEVENTFD, &pio)));
	ASSERT_EQ(0, err(ioctl(self->vm.fd, ACRN_IOCTL_IOEVENTFD, &mmio)));
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 30000));
	EXPECT_EQ(KICKS, efd_count(self->efd));
	EXPECT_EQ(KICKS, efd_count(self->efd2));
	/* The DM saw only the final "done". */
	EXPECT_EQ(1, self->vm.nlog);
	EXPECT_EQ(PORT_DONE, self->vm.log[0].addr);
}

TEST_F(guest, irqfd_injects_msi)
{
	struct acrn_irqfd irq = {
		.fd = self->efd, .msi = { .msi_addr = 0xfee00000, .msi_data = MSI_VECTOR },
	};

	setup_guest(_metadata, self, "hsm-irqfd", hirq_start, hirq_end);
	ASSERT_EQ(0, err(ioctl(self->vm.fd, ACRN_IOCTL_IRQFD, &irq)));
	self->ctx.efd = self->efd;
	self->ctx.done_after_irqs = 1;
	ASSERT_EQ(0, tdm_run(&self->vm, handler, &self->ctx, 30000));
	EXPECT_EQ(1, self->ctx.irqs);
	EXPECT_EQ(MSI_VECTOR, self->ctx.irq_value);
	/* The handler's own event after the interrupt: the guest is still alive. */
	usleep(100000);
	EXPECT_EQ(2, self->ctx.events);
	/* After DEASSIGN a signal injects nothing. */
	irq.flags = ACRN_IRQFD_FLAG_DEASSIGN;
	ASSERT_EQ(0, err(ioctl(self->vm.fd, ACRN_IOCTL_IRQFD, &irq)));
	EXPECT_EQ(8, write(self->efd, &(__u64){ 1 }, 8));
	usleep(200000);
	EXPECT_EQ(1, self->ctx.irqs);
}

/* A DM holding a request: child process, killed; the parent checks the teardown. */
static int hold_handler(struct tdm_vm *vm, struct tdm_req *q, void *arg)
{
	int *pipe_w = arg;

	if (q->type == ACRN_IOREQ_TYPE_PORTIO && q->addr == PORT_DATA) {
		if (write(*pipe_w, "h", 1) != 1)
			return 1;
		for (;;)
			pause();
	}
	return 0;
}

TEST_F(guest, dm_killed_mid_request)
{
	struct hv_counters h;
	long pins_before, pins_after;
	int fds[2], status;
	pid_t pid;
	char c;

	if (!hsm_is_ours())
		SKIP(return, "acrn.ko leaks a VM that is not paused on release (Documentation/hsm.rst)");
	pins_before = pinned_pages();
	ASSERT_LE(0, pins_before);
	ASSERT_EQ(0, pipe(fds));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct tdm_vm vm;

		close(fds[0]);
		if (tdm_create(&vm, "hsm-killed", 0) || tdm_map_ram(&vm, RAM_LEN) ||
		    tdm_load(&vm, CODE_GPA, hhold_start, hhold_end - hhold_start) ||
		    tdm_regs_real(&vm, CODE_GPA))
			_exit(2);
		tdm_run(&vm, hold_handler, &fds[1], 60000);
		_exit(3);
	}
	close(fds[1]);
	/* The DM is inside its handler: the guest's vCPU waits for the completion. */
	ASSERT_EQ(1, read(fds[0], &c, 1));
	close(fds[0]);
	hv_counters(&h);
	EXPECT_EQ(1u, h.vms);
	EXPECT_LT(pins_before, pinned_pages());
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	hv_counters(&h);
	EXPECT_EQ(0u, h.vms);
	EXPECT_EQ(0u, h.ioreq_bufs);
	EXPECT_EQ(0u, h.regions);
	pins_after = pinned_pages();
	EXPECT_EQ(pins_before, pins_after);
}

TEST_HARNESS_MAIN
