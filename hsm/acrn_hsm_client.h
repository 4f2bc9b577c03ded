/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-kernel client API of acrn_hsm.ko (implemented in hsm/client_api.rs, exported by
 * hsm/hsm_shim.c with EXPORT_SYMBOL_GPL; Documentation/hsm.rst, "In-kernel client API").
 * Build with KBUILD_EXTRA_SYMBOLS=<hsm>/Module.symvers. samples/hsm_client is a complete user.
 *
 * Handles are opaque. A VM reference keeps the VM's request state and its guest RAM mappings
 * alive, not the VM: its requests stop when the device model destroys it.
 */
#ifndef ACRN_HSM_CLIENT_H
#define ACRN_HSM_CLIENT_H

#include <linux/types.h>

struct acrn_io_request;		/* <uapi/linux/acrn.h> */

/* A reference to VM @vmid of this HSM, NULL if there is none. Not from a handler. */
void *acrn_hsm_vm_get(u16 vmid);
/* Drops a reference from acrn_hsm_vm_get(). */
void acrn_hsm_vm_put(void *vm);
/* The number of vCPUs (request slots) of @vm. */
u16 acrn_hsm_vm_vcpu_num(void *vm);

/*
 * The kernel address of @len bytes of @vm's guest-physical memory at @gpa, or an ERR_PTR():
 * -EINVAL if @len is 0 or the range wraps, -EFAULT unless it lies wholly inside one RAM
 * SET_MEMSEG of the device model (two adjacent segments are two mappings; VM_PFNMAP segments
 * are not mapped), -ENODEV once the VM is destroyed.
 *
 * The address stays valid while the caller holds @vm: the pages stay pinned and mapped until
 * the last reference is dropped, even if the VM is destroyed meanwhile (the guest no longer
 * sees them then). The memory is shared with the running guest and the device model: read
 * and write it as such (READ_ONCE()/memcpy(), validate what you read once). Process context;
 * may sleep; may be called from a handler.
 */
void *acrn_hsm_vm_map_guest(void *vm, u64 gpa, size_t len);

/*
 * A client of @vm calling @handler(@priv, vcpu, req) for each request in its ranges (none
 * yet), NULL on failure. @handler gets a copy of the request and returns 0 to complete it at
 * once (its reqs, e.g. a read's value, are copied back), 1 to complete it later with
 * acrn_hsm_client_complete(), or a negative errno (logged; completed anyway). Handlers run in
 * the dispatcher (process context, may sleep, but hold up every VM's requests) and must not
 * stop or destroy a client nor call acrn_hsm_vm_get().
 */
void *acrn_hsm_client_create(void *vm, int (*handler)(void *priv, u16 vcpu,
						       struct acrn_io_request *req),
			     void *priv);
/* Once this returns the handler is not running and never called again; idempotent. */
void acrn_hsm_client_stop(void *client);
/* acrn_hsm_client_stop(), then frees the handle. */
void acrn_hsm_client_destroy(void *client);
/* Claims [@start, @end] of ACRN_IOREQ_TYPE_PORTIO or _MMIO: 0, -EINVAL if @end < @start. */
int acrn_hsm_client_add_range(void *client, u32 type, u64 start, u64 end);
/* Drops a range equal to [@start, @end] of @type, if the client has one. */
void acrn_hsm_client_del_range(void *client, u32 type, u64 start, u64 end);
/*
 * Completes @vcpu's request the handler deferred, copying @req->reqs into the slot: 0,
 * -EINVAL for a bad vCPU, -ENOENT if the client does not hold that request. Process context.
 */
int acrn_hsm_client_complete(void *client, u16 vcpu, const struct acrn_io_request *req);

#endif
