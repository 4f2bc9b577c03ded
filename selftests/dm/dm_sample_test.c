// SPDX-License-Identifier: GPL-2.0
/*
 * The sample device model (samples/dm, /usr/bin/acrn-dm-rs in the test initramfs) running
 * the sample guests (samples/guests, /usr/share/acrn-rs) under the acrn-rs hypervisor, with
 * the HSM that $HSM_MODULE names (acrn_hsm: ours, acrn: the C acrn.ko; acrn if unset):
 *
 *  - hello64 prints through the DM's UART, checks MMIO reads of every width against the
 *    DM's VM information page, prints what it read, gets an MSI through the DM's doorbell
 *    and exits with 0 through the exit port;
 *  - spin64 loops forever with interrupts off: --timeout and SIGTERM must still stop it;
 *  - bad usage and a missing image fail cleanly.
 *
 * After each run no VM may be left in the hypervisor (acrn-rs debug CPUID leaf).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "selftests/acrn_hsm/hsm_vm.h"

#define DM "/usr/bin/acrn-dm-rs"
#define GUESTS "/usr/share/acrn-rs"

struct run {
	int status;		/* exit status, or 128 + signal that killed the DM */
	char out[4096];		/* its stdout and stderr */
};

/*
 * Runs the DM with @argv (NULL-terminated, without the program name); if @term_after_ms is
 * not negative, sends it SIGTERM after that long. Fills @r; returns 0 or -errno.
 */
static int run_dm(const char *const *argv, int term_after_ms, struct run *r)
{
	const char *args[16] = { DM };
	int pipefd[2], status, n = 0, len = 0;
	pid_t pid;

	for (int i = 0; argv[i] && i < 14; i++)
		args[i + 1] = argv[i];
	if (pipe(pipefd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		execv(DM, (char *const *)args);
		_exit(127);
	}
	close(pipefd[1]);
	if (term_after_ms >= 0) {
		usleep(term_after_ms * 1000);
		kill(pid, SIGTERM);
	}
	while (len < (int)sizeof(r->out) - 1 &&
	       (n = read(pipefd[0], r->out + len, sizeof(r->out) - 1 - len)) > 0)
		len += n;
	r->out[len] = '\0';
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

FIXTURE(dm) {
	struct hv_counters before;
};

FIXTURE_SETUP(dm)
{
	int ret;

	SKIP_UNLESS_ACRN_RS();
	if (getuid())
		SKIP(return, "needs root");
	ASSERT_EQ(0, access(DM, X_OK)) TH_LOG("%s missing from the initramfs", DM);
	ret = hsm_load();
	ASSERT_EQ(0, ret) TH_LOG("%s.ko: %s", hsm_module(), strerror(-ret));
	hv_counters(&self->before);
	ASSERT_EQ(0u, self->before.vms) TH_LOG("User VMs left over from an earlier test");
}

FIXTURE_TEARDOWN(dm)
{
	struct hv_counters after;

	if (!is_acrn_rs() || getuid())
		return;
	hv_counters(&after);
	EXPECT_EQ(0u, after.vms) TH_LOG("the DM left its VM behind");
	EXPECT_EQ(0u, after.ioreq_bufs);
	EXPECT_EQ(self->before.creates + 1, after.creates);
	kmod_unload(hsm_module());
}

TEST_F(dm, hello_guest)
{
	const char *argv[] = { "--verbose", "--timeout", "60", "--name", "dm-hello",
			       GUESTS "/hello64.bin", NULL };
	unsigned int dm_vmid, guest_vmid;
	const char *p;
	struct run r;

	ASSERT_EQ(0, run_dm(argv, -1, &r));
	EXPECT_EQ(0, r.status) TH_LOG("output: %s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "Hello from a User VM on acrn-rs! The device model says: "
				      "acrn-rs!\n")) TH_LOG("output: %s", r.out);
	/* The VM id the guest read by MMIO is the one CREATE_VM gave the DM. */
	p = strstr(r.out, "acrn-dm-rs: VM ");
	ASSERT_NE(NULL, p) TH_LOG("output: %s", r.out);
	ASSERT_EQ(1, sscanf(p, "acrn-dm-rs: VM %u", &dm_vmid));
	p = strstr(r.out, "This is VM ");
	ASSERT_NE(NULL, p) TH_LOG("output: %s", r.out);
	ASSERT_EQ(1, sscanf(p, "This is VM %u.", &guest_vmid));
	EXPECT_EQ(dm_vmid, guest_vmid);
	EXPECT_NE(0u, guest_vmid);
	/* The doorbell's MSI reached the guest's IDT handler, and it went on to exit. */
	EXPECT_NE(NULL, strstr(r.out, "acrn-dm-rs: MSI vector 0x40 to vCPU 0"))
		TH_LOG("output: %s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "Interrupt 0x40 from the device model received. Bye.\n"))
		TH_LOG("output: %s", r.out);
	/* Every access of the guest was to a device of the DM. */
	EXPECT_EQ(NULL, strstr(r.out, "unclaimed")) TH_LOG("output: %s", r.out);
}

TEST_F(dm, looping_guest_stopped_by_timeout)
{
	const char *argv[] = { "--timeout", "2", "--name", "dm-spin", GUESTS "/spin64.bin", NULL };
	struct run r;

	ASSERT_EQ(0, run_dm(argv, -1, &r));
	EXPECT_EQ(124, r.status);
}

TEST_F(dm, looping_guest_stopped_by_sigterm)
{
	const char *argv[] = { "--name", "dm-spin", GUESTS "/spin64.bin", NULL };
	struct run r;

	ASSERT_EQ(0, run_dm(argv, 2000, &r));
	EXPECT_EQ(128 + SIGTERM, r.status);
}

/* Usage errors and a missing image fail before CREATE_VM; an image that does not fit after. */
TEST_F(dm, bad_usage)
{
	const char *bad_opt[] = { "--frobnicate", GUESTS "/hello64.bin", NULL };
	const char *no_image[] = { "--timeout", "5", "/nonexistent.bin", NULL };
	const char *low_load[] = { "--load", "0x1000", "--timeout", "5", "--name", "dm-bad",
				   GUESTS "/hello64.bin", NULL };
	struct run r;

	ASSERT_EQ(0, run_dm(bad_opt, -1, &r));
	EXPECT_EQ(2, r.status);
	ASSERT_EQ(0, run_dm(no_image, -1, &r));
	EXPECT_EQ(1, r.status);
	/* An image over the boot tables is refused after CREATE_VM: the VM must still go. */
	ASSERT_EQ(0, run_dm(low_load, -1, &r));
	EXPECT_EQ(1, r.status);
}

TEST_HARNESS_MAIN
