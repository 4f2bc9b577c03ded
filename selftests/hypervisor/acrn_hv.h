/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the hypervisor suite needs to know about the machine it runs on, from CPUID (which
 * works in ring 3): whether it is an ACRN VM, whether it is the Service VM, and, on the
 * acrn-rs hypervisor, its debug leaf 0x400000f0 (not ACRN ABI): live User VMs, their
 * vCPUs, regions and I/O request buffers, CREATE/DESTROY counts, nested page-table frames
 * in use, and where hypervisor memory is. Every test SKIPs unless the debug leaf answers.
 */
#ifndef ACRN_HV_H
#define ACRN_HV_H

#include <cpuid.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define ACRN_CPUID_SIGNATURE	0x40000000u
#define ACRN_CPUID_FEATURES	0x40000001u
#define ACRN_CPUID_TIMING	0x40000010u
#define ACRN_RS_CPUID_DEBUG	0x400000f0u
#define ACRN_RS_DEBUG_MAGIC	0x73726361u /* "acrs" */

static inline bool cpuid_hypervisor_bit(void)
{
	unsigned int a, b, c, d;

	__cpuid(1, a, b, c, d);
	return c & (1u << 31);
}

/* Only meaningful when the hypervisor bit is set (0x4000xxxx is undefined otherwise). */
static inline bool is_acrn(void)
{
	unsigned int a, b, c, d;
	char sig[13];

	if (!cpuid_hypervisor_bit())
		return false;
	__cpuid(ACRN_CPUID_SIGNATURE, a, b, c, d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = '\0';
	return !strcmp(sig, "ACRNACRNACRN");
}

static inline bool is_acrn_rs(void)
{
	unsigned int a, b, c, d;

	if (!is_acrn())
		return false;
	__cpuid_count(ACRN_RS_CPUID_DEBUG, 0, a, b, c, d);
	return a == ACRN_RS_DEBUG_MAGIC;
}

struct hv_counters {
	uint32_t vms, vcpus, regions, ioreq_bufs;
	uint32_t creates, destroys, npt_frames;
	uint64_t hv_start, hv_end;
};

static inline void hv_counters(struct hv_counters *h)
{
	unsigned int a, b, c, d;

	__cpuid_count(ACRN_RS_CPUID_DEBUG, 0, a, b, c, d);
	h->vms = b;
	h->vcpus = c;
	h->regions = d;
	__cpuid_count(ACRN_RS_CPUID_DEBUG, 1, a, b, c, d);
	h->ioreq_bufs = a;
	h->creates = b;
	h->destroys = c;
	h->npt_frames = d;
	__cpuid_count(ACRN_RS_CPUID_DEBUG, 2, a, b, c, d);
	h->hv_start = (uint64_t)a << 12;
	h->hv_end = (uint64_t)b << 12;
}

#define SKIP_UNLESS_ACRN_RS()						\
	do {								\
		if (!is_acrn_rs())					\
			SKIP(return, "not running on the acrn-rs hypervisor"); \
	} while (0)

#endif
