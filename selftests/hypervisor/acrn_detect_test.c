// SPDX-License-Identifier: GPL-2.0
/*
 * The Service VM sees the acrn-rs hypervisor as ACRN (Linux arch/x86/kernel/cpu/acrn.c,
 * Documentation/virt/acrn/cpuid.rst): the CPUID hypervisor bit, "ACRNACRNACRN" at
 * 0x40000000 with max leaf 0x40000010, the privileged-VM feature bit, the TSC frequency
 * at 0x40000010, SVM hidden; Linux reports "Hypervisor detected: ACRN", sees one CPU (the
 * others are reserved for User VMs), and the upstream C HSM (acrn.ko) loads.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/klog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "acrn_rs_kmod.h"
#include "acrn_hv.h"

TEST(cpuid_signature)
{
	unsigned int a, b, c, d;

	SKIP_UNLESS_ACRN_RS();
	ASSERT_TRUE(cpuid_hypervisor_bit());
	__cpuid(ACRN_CPUID_SIGNATURE, a, b, c, d);
	EXPECT_EQ(ACRN_CPUID_TIMING, a);
	__cpuid(ACRN_CPUID_FEATURES, a, b, c, d);
	EXPECT_EQ(1u, a & 1) TH_LOG("the Service VM is privileged");
	__cpuid(ACRN_CPUID_TIMING, a, b, c, d);
	EXPECT_GT(a, 100000u) TH_LOG("TSC kHz %u", a);
}

TEST(svm_hidden)
{
	unsigned int a, b, c, d;

	SKIP_UNLESS_ACRN_RS();
	__cpuid(0x80000001, a, b, c, d);
	EXPECT_EQ(0u, c & (1u << 2)) TH_LOG("CPUID.80000001:ECX.SVM must be clear");
	__cpuid(0x8000000a, a, b, c, d);
	EXPECT_EQ(0u, a | b | c | d);
}

TEST(linux_detected_acrn)
{
	int size, n;
	char *buf;

	SKIP_UNLESS_ACRN_RS();
	size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	ASSERT_GT(size, 0) TH_LOG("klogctl: %s", strerror(errno));
	buf = calloc(1, size + 1);
	ASSERT_NE(NULL, buf);
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	ASSERT_GT(n, 0) TH_LOG("klogctl: %s", strerror(errno));
	EXPECT_NE(NULL, strstr(buf, "Hypervisor detected: ACRN"));
	free(buf);
}

TEST(one_cpu_online)
{
	SKIP_UNLESS_ACRN_RS();
	/* pCPU 1 is reserved for User VMs: the Service VM runs on pCPU 0 only. */
	EXPECT_EQ(1, sysconf(_SC_NPROCESSORS_ONLN));
	EXPECT_EQ(-1, access("/sys/devices/system/cpu/cpu1/online", F_OK))
		TH_LOG("the reserved pCPU must not be onlinable");
}

TEST(c_hsm_loads)
{
	struct stat st;
	int ret;

	SKIP_UNLESS_ACRN_RS();
	if (getuid())
		SKIP(return, "needs root");
	if (kmod_loaded("acrn_hsm"))
		ASSERT_EQ(0, kmod_unload("acrn_hsm"));
	ret = kmod_ensure_loaded("acrn");
	ASSERT_EQ(0, ret) TH_LOG("acrn.ko: %s", strerror(-ret));
	EXPECT_EQ(0, stat("/dev/acrn_hsm", &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0, kmod_unload("acrn"));
}

TEST_HARNESS_MAIN
