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
#include <linux/sched/mm.h>
#include <linux/vmalloc.h>
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

/* ---------------------------------------------------------------- guest memory */

void *acrn_hsm_vmap(void *pages, unsigned int count);
void acrn_hsm_vunmap(void *addr);
void acrn_hsm_mmap_read_lock(void);
void acrn_hsm_mmap_read_unlock(void);
void *acrn_hsm_pfnmap_vma(u64 addr, u64 *end);
int acrn_hsm_follow_pfn(void *vma, u64 addr, u64 *pfn, bool *writable);
bool acrn_hsm_pfn_refcounted(u64 pfn);

/* Kernel mapping of @count pinned pages (struct page *[@count]), as the C HSM's; NULL if none. */
void *acrn_hsm_vmap(void *pages, unsigned int count)
{
	return vmap(pages, count, VM_MAP, PAGE_KERNEL);
}

void acrn_hsm_vunmap(void *addr)
{
	vunmap(addr);
}

/* The mmap lock of the calling task's mm, for the VM_PFNMAP walk of SET_MEMSEG. */
void acrn_hsm_mmap_read_lock(void)
{
	mmap_read_lock(current->mm);
}

void acrn_hsm_mmap_read_unlock(void)
{
	mmap_read_unlock(current->mm);
}

/*
 * Under the mmap lock: the VMA of the calling task containing @addr if it has VM_PFNMAP (its
 * end in *@end), else NULL.
 */
void *acrn_hsm_pfnmap_vma(u64 addr, u64 *end)
{
	struct vm_area_struct *vma = vma_lookup(current->mm, addr);

	if (!vma || !(vma->vm_flags & VM_PFNMAP))
		return NULL;
	*end = vma->vm_end;
	return vma;
}

/* Under the mmap lock: the PFN mapped at @addr of @vma and whether it is writable; 0 or -errno. */
int acrn_hsm_follow_pfn(void *vma, u64 addr, u64 *pfn, bool *writable)
{
	struct follow_pfnmap_args args = { .vma = vma, .address = addr };
	int ret = follow_pfnmap_start(&args);

	if (ret)
		return ret;
	*pfn = args.pfn;
	*writable = args.writable;
	follow_pfnmap_end(&args);
	return 0;
}

/* Whether @pfn is a page the kernel refcounts (valid and not PageReserved). */
bool acrn_hsm_pfn_refcounted(u64 pfn)
{
	return pfn_valid(pfn) && !PageReserved(pfn_to_page(pfn));
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

/* ---------------------------------------------------------------- I/O request upcall */

#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/workqueue.h>

int acrn_hsm_upcall_setup(void (*dispatch)(void));
void acrn_hsm_upcall_remove(void);
void acrn_hsm_upcall_pause(void);
void acrn_hsm_upcall_resume(void);
void *acrn_hsm_aux_wq(void);
void *acrn_hsm_page_address(void *page);

/*
 * The upcall (vector 0xF3, hard IRQ) queues one work item on an ordered high-priority
 * workqueue, which calls the Rust dispatcher: one scan of every VM's request slots at a time,
 * in order (Linux drivers/virt/acrn/ioreq.c).
 */
static struct workqueue_struct *acrn_hsm_ioreq_wq;
/* For deferred work outside the dispatcher (irqfd shutdown on EPOLLHUP). */
static struct workqueue_struct *acrn_hsm_aux_wq_ptr;
static void (*acrn_hsm_dispatch_fn)(void);
/* Serialises pause..resume: a resume must not queue work while another pause drains. */
static DEFINE_MUTEX(acrn_hsm_pause_lock);

static void acrn_hsm_ioreq_work_fn(struct work_struct *work)
{
	acrn_hsm_dispatch_fn();
}
static DECLARE_WORK(acrn_hsm_ioreq_work, acrn_hsm_ioreq_work_fn);

/* Runs in hard-IRQ context (sysvec_acrn_hv_callback). */
static void acrn_hsm_upcall(void)
{
	queue_work(acrn_hsm_ioreq_wq, &acrn_hsm_ioreq_work);
}

/* Allocates the workqueues and installs the upcall handler calling @dispatch. */
int acrn_hsm_upcall_setup(void (*dispatch)(void))
{
	acrn_hsm_dispatch_fn = dispatch;
	acrn_hsm_ioreq_wq = alloc_ordered_workqueue("acrn_hsm_ioreq", WQ_HIGHPRI | WQ_MEM_RECLAIM);
	if (!acrn_hsm_ioreq_wq)
		return -ENOMEM;
	acrn_hsm_aux_wq_ptr = alloc_workqueue("acrn_hsm_aux", 0, 0);
	if (!acrn_hsm_aux_wq_ptr) {
		destroy_workqueue(acrn_hsm_ioreq_wq);
		return -ENOMEM;
	}
	acrn_setup_intr_handler(acrn_hsm_upcall);
	return 0;
}

/*
 * Removes the handler, waits until no CPU can still be running it (an IRQ handler is an RCU
 * read-side section), then drains and frees the workqueues.
 */
void acrn_hsm_upcall_remove(void)
{
	acrn_remove_intr_handler();
	synchronize_rcu();
	destroy_workqueue(acrn_hsm_ioreq_wq);
	destroy_workqueue(acrn_hsm_aux_wq_ptr);
}

/*
 * Stops dispatching: no upcall handler, no dispatcher running or queued. Must be paired with
 * acrn_hsm_upcall_resume() by the same task; never called from the dispatcher.
 */
void acrn_hsm_upcall_pause(void)
{
	mutex_lock(&acrn_hsm_pause_lock);
	acrn_remove_intr_handler();
	synchronize_rcu();
	drain_workqueue(acrn_hsm_ioreq_wq);
}

/* Re-arms the handler and scans once, for upcalls missed while paused. */
void acrn_hsm_upcall_resume(void)
{
	acrn_setup_intr_handler(acrn_hsm_upcall);
	queue_work(acrn_hsm_ioreq_wq, &acrn_hsm_ioreq_work);
	mutex_unlock(&acrn_hsm_pause_lock);
}

/* The auxiliary workqueue (a struct workqueue_struct *), valid until upcall_remove. */
void *acrn_hsm_aux_wq(void)
{
	return acrn_hsm_aux_wq_ptr;
}

/* Kernel address of a (pinned, lowmem: always on x86-64) page. */
void *acrn_hsm_page_address(void *page)
{
	return page_address(page);
}

/* ---------------------------------------------------------------- in-kernel client API */

/* Implemented in Rust (client_api.rs); declared and documented in acrn_hsm_client.h. */
#include "acrn_hsm_client.h"

EXPORT_SYMBOL_GPL(acrn_hsm_vm_get);
EXPORT_SYMBOL_GPL(acrn_hsm_vm_put);
EXPORT_SYMBOL_GPL(acrn_hsm_vm_vcpu_num);
EXPORT_SYMBOL_GPL(acrn_hsm_vm_map_guest);
EXPORT_SYMBOL_GPL(acrn_hsm_client_create);
EXPORT_SYMBOL_GPL(acrn_hsm_client_stop);
EXPORT_SYMBOL_GPL(acrn_hsm_client_destroy);
EXPORT_SYMBOL_GPL(acrn_hsm_client_add_range);
EXPORT_SYMBOL_GPL(acrn_hsm_client_del_range);
EXPORT_SYMBOL_GPL(acrn_hsm_client_complete);
