// SPDX-License-Identifier: GPL-2.0
/*
 * Ioctl validation of /dev/acrn_hsm with a VM, under the acrn-rs hypervisor, for the HSM that
 * $HSM_MODULE names (acrn_hsm: ours, acrn: the C acrn.ko; acrn if unset): calls before
 * CREATE_VM, bad pointers, non-zero reserved fields, bad memory segments, double CREATE_VM,
 * the requests forwarded to the hypervisor (devices, interrupts, PM) and the sysfs files.
 */
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "hsm_vm.h"

FIXTURE(vm) {
	int fd;
	void *ioreq;
	bool created;
	__u16 vmid;
};

FIXTURE_SETUP(vm)
{
	struct acrn_vm_creation cv = { 0 };
	int ret;

	self->fd = -1;
	self->created = false;
	SKIP_UNLESS_ACRN_RS();
	if (getuid())
		SKIP(return, "needs root");
	ret = hsm_load();
	ASSERT_EQ(0, ret) TH_LOG("%s.ko: %s", hsm_module(), strerror(-ret));
	self->fd = open(HSM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	/* Before CREATE_VM every other command is refused, known or not. */
	EXPECT_EQ(-EINVAL, err(ioctl(self->fd, ACRN_IOCTL_START_VM, 0)));
	EXPECT_EQ(-EINVAL, err(ioctl(self->fd, ACRN_IOCTL_DESTROY_VM, 0)));
	EXPECT_EQ(-EINVAL, err(ioctl(self->fd, ACRN_IOCTL_SET_MEMSEG, BAD_PTR)));
	EXPECT_EQ(-EINVAL, err(ioctl(self->fd, _IO(ACRN_IOCTL_TYPE, 0xff), 0)));
	/* CREATE_VM: bad pointer, reserved fields. */
	EXPECT_EQ(-EFAULT, err(ioctl(self->fd, ACRN_IOCTL_CREATE_VM, BAD_PTR)));
	self->ioreq = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->ioreq);
	strcpy((char *)cv.uuid, "hsm-ioctl");
	cv.ioreq_buf = (unsigned long)self->ioreq;
	cv.reserved0 = 1;
	EXPECT_EQ(-EINVAL, err(ioctl(self->fd, ACRN_IOCTL_CREATE_VM, &cv)));
	cv.reserved0 = 0;
	cv.reserved1 = 1;
	EXPECT_EQ(-EINVAL, err(ioctl(self->fd, ACRN_IOCTL_CREATE_VM, &cv)));
	cv.reserved1 = 0;
	ASSERT_EQ(0, err(ioctl(self->fd, ACRN_IOCTL_CREATE_VM, &cv)));
	EXPECT_NE(0xffff, cv.vmid);
	self->vmid = cv.vmid;
	self->created = true;
}

FIXTURE_TEARDOWN(vm)
{
	struct hv_counters h;

	if (self->fd < 0)
		return;
	if (self->created) {
		EXPECT_EQ(0, err(ioctl(self->fd, ACRN_IOCTL_PAUSE_VM, 0)));
		EXPECT_EQ(0, err(ioctl(self->fd, ACRN_IOCTL_DESTROY_VM, 0)));
		/* DESTROY_VM leaves the file without a VM: the state rule applies again. */
		EXPECT_EQ(-EINVAL, err(ioctl(self->fd, ACRN_IOCTL_DESTROY_VM, 0)));
	}
	close(self->fd);
	munmap(self->ioreq, PAGE);
	hv_counters(&h);
	EXPECT_EQ(0u, h.vms);
	EXPECT_EQ(0u, h.ioreq_bufs);
	kmod_unload(hsm_module());
}

TEST_F(vm, unknown_command)
{
	EXPECT_EQ(-ENOTTY, err(ioctl(self->fd, _IO(ACRN_IOCTL_TYPE, 0xff), 0)));
}

TEST_F(vm, vcpu_regs_reserved)
{
	struct acrn_vcpu_regs regs = { 0 };

	EXPECT_EQ(-EFAULT, err(ioctl(self->fd, ACRN_IOCTL_SET_VCPU_REGS, BAD_PTR)));
	regs.reserved[2] = 1;
	EXPECT_EQ(-EINVAL, err(ioctl(self->fd, ACRN_IOCTL_SET_VCPU_REGS, &regs)));
	regs.reserved[2] = 0;
	regs.vcpu_regs.reserved_32[0] = 1;
	EXPECT_EQ(-EINVAL, err(ioctl(self->fd, ACRN_IOCTL_SET_VCPU_REGS, &regs)));
	regs.vcpu_regs.reserved_32[0] = 0;
	regs.vcpu_regs.reserved_64[3] = 1;
	EXPECT_EQ(-EINVAL, err(ioctl(self->fd, ACRN_IOCTL_SET_VCPU_REGS, &regs)));
	regs.vcpu_regs.reserved_64[3] = 0;
	regs.vcpu_regs.idt.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, err(ioctl(self->fd, ACRN_IOCTL_SET_VCPU_REGS, &regs)));
}

TEST_F(vm, memseg_validation)
{
	struct acrn_vm_memmap m = { .type = ACRN_MEMMAP_RAM, .attr = ACRN_MEM_ACCESS_RWX };

	EXPECT_EQ(-EFAULT, err(ioctl(self->fd, ACRN_IOCTL_SET_MEMSEG, BAD_PTR)));
	EXPECT_EQ(-EFAULT, err(ioctl(self->fd, ACRN_IOCTL_UNSET_MEMSEG, BAD_PTR)));
	/* RAM shorter than a page; RAM can not be unset; unknown type. */
	m.vma_base = (unsigned long)self->ioreq;
	m.len = 100;
	EXPECT_EQ(-EINVAL, err(ioctl(self->fd, ACRN_IOCTL_SET_MEMSEG, &m)));
	m.len = PAGE;
	EXPECT_EQ(-EINVAL, err(ioctl(self->fd, ACRN_IOCTL_UNSET_MEMSEG, &m)));
	m.type = 7;
	EXPECT_EQ(-EINVAL, err(ioctl(self->fd, ACRN_IOCTL_SET_MEMSEG, &m)));
	/* RAM that is not mapped in the DM. */
	m.type = ACRN_MEMMAP_RAM;
	m.vma_base = 0x1000;
	EXPECT_EQ(-EFAULT, err(ioctl(self->fd, ACRN_IOCTL_SET_MEMSEG, &m)));
}

TEST_F(vm, double_create)
{
	struct acrn_vm_creation cv = { 0 };

	if (!hsm_is_ours())
		SKIP(return, "acrn.ko loses the first VM (Documentation/hsm.rst)");
	strcpy((char *)cv.uuid, "hsm-ioctl-2");
	cv.ioreq_buf = (unsigned long)self->ioreq;
	EXPECT_EQ(-EINVAL, err(ioctl(self->fd, ACRN_IOCTL_CREATE_VM, &cv)));
}

/*
 * Requests the HSM forwards unchanged: it copies the struct in (a bad pointer is EFAULT
 * before any hypercall) and returns the hypervisor's answer. The acrn-rs hypervisor has no
 * device pass-through: it answers ENOTTY (Documentation/hypervisor.rst).
 */
TEST_F(vm, device_passthrough_forwarded)
{
	static const unsigned long cmds[] = {
		ACRN_IOCTL_ASSIGN_MMIODEV, ACRN_IOCTL_DEASSIGN_MMIODEV,
		ACRN_IOCTL_ASSIGN_PCIDEV, ACRN_IOCTL_DEASSIGN_PCIDEV,
		ACRN_IOCTL_CREATE_VDEV, ACRN_IOCTL_DESTROY_VDEV,
		ACRN_IOCTL_SET_PTDEV_INTR, ACRN_IOCTL_RESET_PTDEV_INTR,
	};
	static char arg[sizeof(struct acrn_vdev)];

	for (unsigned int i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		EXPECT_EQ(-EFAULT, err(ioctl(self->fd, cmds[i], BAD_PTR))) TH_LOG("cmd %#lx", cmds[i]);
		EXPECT_EQ(-ENOTTY, err(ioctl(self->fd, cmds[i], arg))) TH_LOG("cmd %#lx", cmds[i]);
	}
	EXPECT_EQ(-EFAULT, err(ioctl(self->fd, ACRN_IOCTL_INJECT_MSI, BAD_PTR)));
}

/* PM_GET_CPU_STATE: the answer overwrites the command; unknown types do nothing. */
TEST_F(vm, pm_get_cpu_state)
{
	__u64 cmd, vmid;

	EXPECT_EQ(-EFAULT, err(ioctl(self->fd, ACRN_IOCTL_PM_GET_CPU_STATE, BAD_PTR)));
	/* Unknown command type: success, nothing written (upstream quirk). */
	cmd = 0x7f;
	EXPECT_EQ(0, err(ioctl(self->fd, ACRN_IOCTL_PM_GET_CPU_STATE, &cmd)));
	EXPECT_EQ(0x7full, cmd);
	/* C-state count of our (created, not started) VM: 0, written over the command. */
	vmid = self->vmid;
	cmd = (vmid << 24) | ACRN_PMCMD_GET_CX_CNT;
	EXPECT_EQ(0, err(ioctl(self->fd, ACRN_IOCTL_PM_GET_CPU_STATE, &cmd)));
	EXPECT_EQ(0ull, cmd);
	/* A VM id that names no VM: the hypervisor refuses, the command is left as it was. */
	cmd = (0xfeull << 24) | ACRN_PMCMD_GET_CX_CNT;
	EXPECT_NE(0, err(ioctl(self->fd, ACRN_IOCTL_PM_GET_CPU_STATE, &cmd)));
	EXPECT_EQ((0xfeull << 24) | ACRN_PMCMD_GET_CX_CNT, cmd);
}

/* VM_INTR_MONITOR pins the page first: an unmapped address is EFAULT. */
TEST_F(vm, intr_monitor)
{
	void *page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, page);
	EXPECT_EQ(-EFAULT, err(ioctl(self->fd, ACRN_IOCTL_VM_INTR_MONITOR, 0x1000ul)));
	/* The acrn-rs hypervisor keeps no interrupt statistics: ENOTTY, the page unpinned. */
	EXPECT_EQ(-ENOTTY, err(ioctl(self->fd, ACRN_IOCTL_VM_INTR_MONITOR, page)));
	munmap(page, PAGE);
}

/* sysfs remove_cpu: write-only; CPU 0, CPUs that are not possible and junk are EINVAL. */
TEST_F(vm, sysfs_remove_cpu)
{
	static const char *const bad[] = { "0", "1", "4096", "abc", "-1" };
	const char *path = "/sys/class/misc/acrn_hsm/remove_cpu";
	struct stat st;
	int fd;

	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0200u, st.st_mode & 0777);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	/* The Service VM has one possible CPU (nr_cpus=1): nothing can be removed. */
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, err((int)pwrite(fd, bad[i], strlen(bad[i]), 0)))
			TH_LOG("%s", bad[i]);
	}
	close(fd);
	/* ACRN's own kernel called it offline_cpu; upstream acrn.ko has only remove_cpu. */
	if (hsm_is_ours())
		EXPECT_EQ(0, stat("/sys/class/misc/acrn_hsm/offline_cpu", &st));
}

TEST_HARNESS_MAIN
