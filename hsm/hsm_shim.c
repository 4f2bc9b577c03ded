// SPDX-License-Identifier: GPL-2.0
/*
 * C part of acrn_hsm.ko: what Rust can not reach through the 6.12 bindings (x86_hyper_type,
 * static inline cpuid helpers), plus the shared acrn-rs kernel shim.
 */
#include <asm/hypervisor.h>
#include <asm/acrn.h>
#include <linux/io.h>
#include <linux/mm.h>
#include "../rust/shim.c"

bool acrn_hsm_running_on_acrn(void);
bool acrn_hsm_is_privileged_vm(void);

/* True if the kernel detected the ACRN hypervisor (CPUID 0x40000000 = "ACRNACRNACRN"). */
bool acrn_hsm_running_on_acrn(void)
{
	return x86_hyper_type == X86_HYPER_ACRN;
}

/* True if ACRN says this VM is the privileged Service VM (CPUID 0x40000001 EAX bit 0). */
bool acrn_hsm_is_privileged_vm(void)
{
	return cpuid_eax(ACRN_CPUID_FEATURES) & ACRN_FEATURE_PRIVILEGED_VM;
}

u64 acrn_hsm_virt_to_phys(const void *addr);
u64 acrn_hsm_page_to_phys(void *page);

/* Service VM physical address of direct-mapped (kmalloc) kernel memory. */
u64 acrn_hsm_virt_to_phys(const void *addr)
{
	return virt_to_phys((void *)addr);
}

/* Physical address of a (pinned) page. */
u64 acrn_hsm_page_to_phys(void *page)
{
	return page_to_phys(page);
}
