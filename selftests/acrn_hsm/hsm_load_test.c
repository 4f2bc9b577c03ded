// SPDX-License-Identifier: GPL-2.0
/*
 * Loading rules of the HSM, for our acrn_hsm.ko and the C reference acrn.ko alike (fixture
 * variants): the module must refuse to load with ENODEV unless the CPU reports the ACRN
 * hypervisor, with EPERM in a non-privileged ACRN VM, and in the Service VM it must load and
 * create /dev/acrn_hsm. The test reads CPUID itself to know which case applies.
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "acrn_rs_kmod.h"

#define HSM_DEV "/dev/acrn_hsm"

enum platform { NOT_ACRN, ACRN_UNPRIVILEGED, ACRN_SERVICE_VM };

static enum platform platform(void)
{
	unsigned int eax, ebx, ecx, edx;
	char sig[13];

	/* CPUID.1:ECX[31] says a hypervisor is present; only then are 0x4000xxxx defined. */
	__cpuid(1, eax, ebx, ecx, edx);
	if (!(ecx & (1u << 31)))
		return NOT_ACRN;
	__cpuid(0x40000000, eax, ebx, ecx, edx);
	memcpy(sig, &ebx, 4);
	memcpy(sig + 4, &ecx, 4);
	memcpy(sig + 8, &edx, 4);
	sig[12] = '\0';
	if (strcmp(sig, "ACRNACRNACRN"))
		return NOT_ACRN;
	__cpuid(0x40000001, eax, ebx, ecx, edx);
	return (eax & 1) ? ACRN_SERVICE_VM : ACRN_UNPRIVILEGED;
}

FIXTURE(hsm) {
	const char *other;
};

FIXTURE_VARIANT(hsm) {
	const char *module;
};

FIXTURE_VARIANT_ADD(hsm, rust) {
	.module = "acrn_hsm",
};

FIXTURE_VARIANT_ADD(hsm, c) {
	.module = "acrn",
};

FIXTURE_SETUP(hsm)
{
	if (getuid())
		SKIP(return, "needs root");
	/* Only one HSM can own /dev/acrn_hsm and the upcall: unload the other one. */
	self->other = strcmp(variant->module, "acrn") ? "acrn" : "acrn_hsm";
	if (kmod_loaded(self->other))
		ASSERT_EQ(0, kmod_unload(self->other));
	if (kmod_loaded(variant->module))
		ASSERT_EQ(0, kmod_unload(variant->module));
}

FIXTURE_TEARDOWN(hsm)
{
}

TEST_F(hsm, load_follows_platform)
{
	struct stat st;
	int ret = kmod_load(variant->module);

	switch (platform()) {
	case NOT_ACRN:
		EXPECT_EQ(-ENODEV, ret) TH_LOG("%s: %s", variant->module, strerror(-ret));
		EXPECT_FALSE(kmod_loaded(variant->module));
		EXPECT_NE(0, stat(HSM_DEV, &st));
		EXPECT_EQ(-1, open(HSM_DEV, O_RDWR));
		EXPECT_EQ(ENOENT, errno);
		break;
	case ACRN_UNPRIVILEGED:
		EXPECT_EQ(-EPERM, ret) TH_LOG("%s: %s", variant->module, strerror(-ret));
		EXPECT_FALSE(kmod_loaded(variant->module));
		break;
	case ACRN_SERVICE_VM:
		ASSERT_EQ(0, ret) TH_LOG("%s: %s", variant->module, strerror(-ret));
		EXPECT_EQ(0, stat(HSM_DEV, &st));
		EXPECT_TRUE(S_ISCHR(st.st_mode));
		EXPECT_EQ(0, kmod_unload(variant->module));
		EXPECT_NE(0, stat(HSM_DEV, &st));
		break;
	}
}

TEST_F(hsm, refusal_is_repeatable)
{
	/* A refused load must leave nothing behind: the next attempt fails the same way. */
	int first, second;

	if (platform() == ACRN_SERVICE_VM)
		SKIP(return, "running in the ACRN Service VM: the module loads");
	first = kmod_load(variant->module);
	second = kmod_load(variant->module);
	EXPECT_EQ(first, second);
	EXPECT_NE(0, second);
	EXPECT_FALSE(kmod_loaded(variant->module));
}

TEST_HARNESS_MAIN
