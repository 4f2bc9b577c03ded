// SPDX-License-Identifier: GPL-2.0
/*
 * acrn_hsm_client_sample.ko: an in-kernel I/O request client of acrn_hsm.ko, through the C API
 * it exports (Documentation/hsm.rst, "In-kernel client API"). Driven by
 * selftests/acrn_hsm/hsm_client_test.
 *
 * Loaded with vmid=<id> port=<p>, it claims the four ports [p, p + 3] of that VM:
 *   - a read returns 0xc0ffee00 | vcpu, completed at once;
 *   - a write is recorded in the read-only parameter last_write, completed at once, except
 *     the value 0xdefe, which is completed later from a work item (the deferred path);
 * and, as a second range, the four ports [p + 4, p + 7] (the same), where
 *   - a 4-byte write of a guest-physical address G to port p + 4 reads guest memory through
 *     acrn_hsm_vm_map_guest(): the checksum of the mem_len bytes at G goes into the parameter
 *     mem_sum and is written back into the guest, little endian, at G + mem_len; mem_err gets
 *     0 or the errno of the mapping.
 * Writing a guest-physical address to the parameter probe_gpa does the same from process
 * context, outside any request (e.g. after the VM is destroyed).
 */
#include <linux/err.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <linux/workqueue.h>
#include <uapi/linux/acrn.h>

#include "../../hsm/acrn_hsm_client.h"

static ushort vmid;
module_param(vmid, ushort, 0444);
MODULE_PARM_DESC(vmid, "VM whose ports to claim");
static ulong port = 0x7000;
module_param(port, ulong, 0444);
MODULE_PARM_DESC(port, "first of the four claimed ports");
static uint last_write;
module_param(last_write, uint, 0444);
MODULE_PARM_DESC(last_write, "last value written to the ports");

static uint mem_len = 64;
module_param(mem_len, uint, 0644);
MODULE_PARM_DESC(mem_len, "bytes of guest memory checksummed per request");
static uint mem_sum;
module_param(mem_sum, uint, 0444);
MODULE_PARM_DESC(mem_sum, "checksum of the guest memory read last");
static int mem_err;
module_param(mem_err, int, 0444);
MODULE_PARM_DESC(mem_err, "0, or the errno of the last guest memory mapping");

#define DEFERRED_VALUE 0xdefe
#define MEM_PORT_OFFSET 4

static void *sample_client;
static struct acrn_io_request deferred_req;
static u16 deferred_vcpu;

static void sample_complete_deferred(struct work_struct *work)
{
	int ret = acrn_hsm_client_complete(sample_client, deferred_vcpu, &deferred_req);

	if (ret)
		pr_err("acrn_hsm_client_sample: deferred completion failed: %d\n", ret);
}
static DECLARE_WORK(sample_deferred_work, sample_complete_deferred);

static void *sample_vm;

/*
 * Checksums mem_len bytes of guest memory at @gpa (FNV-1a, byte by byte: the guest may change
 * them meanwhile) and writes the sum back after them, through one mapping of mem_len + 4 bytes.
 */
static void sample_read_guest(u64 gpa)
{
	u32 len = READ_ONCE(mem_len), sum = 2166136261u, i;
	u8 *p = acrn_hsm_vm_map_guest(sample_vm, gpa, (size_t)len + 4);

	if (IS_ERR(p)) {
		WRITE_ONCE(mem_err, PTR_ERR(p));
		return;
	}
	for (i = 0; i < len; i++)
		sum = (sum ^ READ_ONCE(p[i])) * 16777619u;
	put_unaligned_le32(sum, p + len);
	WRITE_ONCE(mem_sum, sum);
	WRITE_ONCE(mem_err, 0);
}

static int probe_gpa_set(const char *val, const struct kernel_param *kp)
{
	u64 gpa;
	int ret = kstrtou64(val, 0, &gpa);

	if (ret)
		return ret;
	/* Under kernel_param_lock(), which sample_exit() takes to clear sample_vm. */
	if (!sample_vm)
		return -ENODEV;
	sample_read_guest(gpa);
	return 0;
}

static const struct kernel_param_ops probe_gpa_ops = { .set = probe_gpa_set };
module_param_cb(probe_gpa, &probe_gpa_ops, NULL, 0200);
MODULE_PARM_DESC(probe_gpa, "checksum guest memory at this address now");

static int sample_handler(void *priv, u16 vcpu, struct acrn_io_request *req)
{
	struct acrn_pio_request *pio = &req->reqs.pio_request;

	if (req->type != ACRN_IOREQ_TYPE_PORTIO)
		return -EINVAL;
	if (pio->direction == ACRN_IOREQ_DIR_READ) {
		pio->value = 0xc0ffee00 | vcpu;
		return 0;
	}
	WRITE_ONCE(last_write, pio->value);
	if (pio->address == port + MEM_PORT_OFFSET && pio->size == 4) {
		sample_read_guest(pio->value);
		return 0;
	}
	if (pio->value == DEFERRED_VALUE) {
		deferred_req = *req;
		deferred_vcpu = vcpu;
		schedule_work(&sample_deferred_work);
		return 1;
	}
	return 0;
}

static int __init sample_init(void)
{
	int ret;

	sample_vm = acrn_hsm_vm_get(vmid);
	if (!sample_vm)
		return -ENODEV;
	sample_client = acrn_hsm_client_create(sample_vm, sample_handler, NULL);
	if (!sample_client) {
		acrn_hsm_vm_put(sample_vm);
		return -ENOMEM;
	}
	ret = acrn_hsm_client_add_range(sample_client, ACRN_IOREQ_TYPE_PORTIO, port, port + 3);
	if (!ret)
		ret = acrn_hsm_client_add_range(sample_client, ACRN_IOREQ_TYPE_PORTIO,
						port + MEM_PORT_OFFSET, port + MEM_PORT_OFFSET + 3);
	if (ret) {
		acrn_hsm_client_destroy(sample_client);
		acrn_hsm_vm_put(sample_vm);
		return ret;
	}
	pr_info("acrn_hsm_client_sample: VM %u (%u vCPUs), ports %#lx-%#lx\n", vmid,
		acrn_hsm_vm_vcpu_num(sample_vm), port, port + MEM_PORT_OFFSET + 3);
	return 0;
}

static void __exit sample_exit(void)
{
	void *vm;

	/*
	 * The handler queues the work, which uses the client: stop the handler, let a deferred
	 * completion finish, then free the client.
	 */
	acrn_hsm_client_del_range(sample_client, ACRN_IOREQ_TYPE_PORTIO, port, port + 3);
	acrn_hsm_client_del_range(sample_client, ACRN_IOREQ_TYPE_PORTIO, port + MEM_PORT_OFFSET,
				  port + MEM_PORT_OFFSET + 3);
	acrn_hsm_client_stop(sample_client);
	flush_work(&sample_deferred_work);
	acrn_hsm_client_destroy(sample_client);
	kernel_param_lock(THIS_MODULE);
	vm = sample_vm;
	sample_vm = NULL;
	kernel_param_unlock(THIS_MODULE);
	acrn_hsm_vm_put(vm);
}

module_init(sample_init);
module_exit(sample_exit);
MODULE_DESCRIPTION("Sample in-kernel I/O request client of acrn_hsm.ko");
MODULE_LICENSE("GPL");
