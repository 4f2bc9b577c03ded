// SPDX-License-Identifier: GPL-2.0
/*
 * ACRN's permission rule for hypercalls (vmcall.c vmcall_vmexit_handler): the Service VM
 * may call them from ring 0 only; from ring 3 the hypervisor injects #GP(0), which Linux
 * turns into SIGSEGV. A #UD that is not a vmcall is reflected to the guest unchanged
 * (SIGILL). Both run in a child process.
 *
 * Linux logs "traps: ... general protection fault" for every unhandled user #GP, which the
 * console checker (scripts/results.py) counts as a kernel report; the expected faults run
 * with debug.exception-trace off, restored afterwards.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "acrn_hv.h"

#define EXCEPTION_TRACE "/proc/sys/debug/exception-trace"

/* Sets debug.exception-trace to @on; returns the old value ('1' if unknown). */
static char exception_trace(char on)
{
	char old = '1';
	int fd = open(EXCEPTION_TRACE, O_RDWR);

	if (fd < 0)
		return old;
	if (read(fd, &old, 1) != 1)
		old = '1';
	if (pwrite(fd, &on, 1, 0) != 1)
		old = '1';
	close(fd);
	return old;
}

/* Returns the signal that killed a child running @fn, or 0 if it exited. */
static int run_child(void (*fn)(void))
{
	char old = exception_trace('0');
	int status, ret;
	pid_t pid = fork();

	if (pid == 0) {
		fn();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		ret = -1;
	else
		ret = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	exception_trace(old);
	return ret;
}

static void do_vmcall(void)
{
	/* HC_GET_API_VERSION with a NULL argument: never reaches the handler. */
	asm volatile("mov $0x80000000, %%r8\n\t"
		     "xor %%edi, %%edi\n\t"
		     "vmcall" ::: "r8", "rdi", "rax", "memory");
}

static void do_ud2(void)
{
	asm volatile("ud2");
}

TEST(vmcall_from_ring3_is_gp)
{
	SKIP_UNLESS_ACRN_RS();
	EXPECT_EQ(SIGSEGV, run_child(do_vmcall)) TH_LOG("expected #GP(0) -> SIGSEGV");
}

TEST(other_ud_reflected)
{
	SKIP_UNLESS_ACRN_RS();
	EXPECT_EQ(SIGILL, run_child(do_ud2));
}

TEST(repeated_vmcalls_keep_the_machine)
{
	int i;

	SKIP_UNLESS_ACRN_RS();
	for (i = 0; i < 50; i++)
		ASSERT_EQ(SIGSEGV, run_child(do_vmcall));
}

TEST_HARNESS_MAIN
