// SPDX-License-Identifier: GPL-2.0
/*
 * acrn_hsm_client_sample.ko: an in-kernel I/O request client of acrn_hsm.ko, through the C API
 * it exports (Documentation/hsm.rst, "In-kernel client API"). Driven by
 * selftests/acrn_hsm/hsm_client_test.
 *
 * Loaded with vmid=<id> port=<p>, it claims the four ports [p, p + 3] of that VM:
 *   - a read returns 0xc0ffee00 | vcpu, completed at once;
 *   - a write is recorded in the read-only parameter last_write, completed at once, except
 *     the value 0xdefe, which is completed later from a work item (the deferred path).
 */
#include <linux/module.h>
#include <linux/workqueue.h>
#include <uapi/linux/acrn.h>

/* The API of acrn_hsm.ko (hsm/client_api.rs). */
void *acrn_hsm_vm_get(u16 vmid);
void acrn_hsm_vm_put(void *vm);
u16 acrn_hsm_vm_vcpu_num(void *vm);
void *acrn_hsm_client_create(void *vm, int (*handler)(void *priv, u16 vcpu,
						       struct acrn_io_request *req),
			     void *priv);
void acrn_hsm_client_stop(void *client);
void acrn_hsm_client_destroy(void *client);
int acrn_hsm_client_add_range(void *client, u32 type, u64 start, u64 end);
void acrn_hsm_client_del_range(void *client, u32 type, u64 start, u64 end);
int acrn_hsm_client_complete(void *client, u16 vcpu, const struct acrn_io_request *req);

static ushort vmid;
module_param(vmid, ushort, 0444);
MODULE_PARM_DESC(vmid, "VM whose ports to claim");
static ulong port = 0x7000;
module_param(port, ulong, 0444);
MODULE_PARM_DESC(port, "first of the four claimed ports");
static uint last_write;
module_param(last_write, uint, 0444);
MODULE_PARM_DESC(last_write, "last value written to the ports");

#define DEFERRED_VALUE 0xdefe

static void *sample_vm;
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
	if (ret) {
		acrn_hsm_client_destroy(sample_client);
		acrn_hsm_vm_put(sample_vm);
		return ret;
	}
	pr_info("acrn_hsm_client_sample: VM %u (%u vCPUs), ports %#lx-%#lx\n", vmid,
		acrn_hsm_vm_vcpu_num(sample_vm), port, port + 3);
	return 0;
}

static void __exit sample_exit(void)
{
	/*
	 * The handler queues the work, which uses the client: stop the handler, let a deferred
	 * completion finish, then free the client.
	 */
	acrn_hsm_client_del_range(sample_client, ACRN_IOREQ_TYPE_PORTIO, port, port + 3);
	acrn_hsm_client_stop(sample_client);
	flush_work(&sample_deferred_work);
	acrn_hsm_client_destroy(sample_client);
	acrn_hsm_vm_put(sample_vm);
}

module_init(sample_init);
module_exit(sample_exit);
MODULE_DESCRIPTION("Sample in-kernel I/O request client of acrn_hsm.ko");
MODULE_LICENSE("GPL");
