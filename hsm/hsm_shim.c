// SPDX-License-Identifier: GPL-2.0
/*
 * C part of acrn_hsm.ko: what Rust can not reach through the 6.12 bindings (x86_hyper_type,
 * static inline cpuid helpers), plus the shared acrn-rs kernel shim.
 */
#include <asm/hypervisor.h>
#include <asm/acrn.h>
#include <linux/io.h>
#include <linux/cpu.h>
#include <linux/device.h>
#include <linux/mm.h>
#include <asm/processor.h>
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

/* ---------------------------------------------------------------- sysfs */

ssize_t acrn_hsm_remove_cpu(const char *buf, size_t count);
unsigned int acrn_hsm_num_possible_cpus(void);
bool acrn_hsm_cpu_online(unsigned int cpu);
u32 acrn_hsm_cpu_apicid(unsigned int cpu);
extern const struct attribute_group *acrn_hsm_attr_groups[];

/*
 * remove_cpu (upstream Linux) and offline_cpu (ACRN's own kernel, which acrn-dm of older
 * releases writes): the same operation, done in Rust (sysfs.rs).
 */
static ssize_t remove_cpu_store(struct device *dev, struct device_attribute *attr,
				const char *buf, size_t count)
{
	return acrn_hsm_remove_cpu(buf, count);
}
static DEVICE_ATTR_WO(remove_cpu);

static ssize_t offline_cpu_store(struct device *dev, struct device_attribute *attr,
				 const char *buf, size_t count)
{
	return acrn_hsm_remove_cpu(buf, count);
}
static DEVICE_ATTR_WO(offline_cpu);

/* As upstream: the attributes exist only with CPU hotplug. */
static umode_t acrn_hsm_attr_visible(struct kobject *kobj, struct attribute *a, int n)
{
	return IS_ENABLED(CONFIG_HOTPLUG_CPU) ? a->mode : 0;
}

static struct attribute *acrn_hsm_attrs[] = {
	&dev_attr_remove_cpu.attr,
	&dev_attr_offline_cpu.attr,
	NULL
};

static const struct attribute_group acrn_hsm_attr_group = {
	.attrs = acrn_hsm_attrs,
	.is_visible = acrn_hsm_attr_visible,
};

const struct attribute_group *acrn_hsm_attr_groups[] = {
	&acrn_hsm_attr_group,
	NULL
};

unsigned int acrn_hsm_num_possible_cpus(void)
{
	return num_possible_cpus();
}

bool acrn_hsm_cpu_online(unsigned int cpu)
{
	return cpu_online(cpu);
}

/* Local APIC id of a possible CPU (what the hypervisor knows the vCPU by). */
u32 acrn_hsm_cpu_apicid(unsigned int cpu)
{
	return cpu_data(cpu).topo.apicid;
}
