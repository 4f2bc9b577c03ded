/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C side of the acrn-rs kernel extensions (rust/lib.rs): what bindgen can not reach in 6.12
 * (struct miscdevice, misc_register(), wait-queue entries with a custom wake function,
 * vfs_poll(), set_current_state() and friends are macros, inlines or absent).
 */
#ifndef ACRN_RS_SHIM_H
#define ACRN_RS_SHIM_H

#include <linux/types.h>

struct attribute_group;
struct file_operations;
struct eventfd_ctx;

int acrn_rs_misc_register(const char *name, const struct file_operations *fops,
			  const struct attribute_group **groups, void **out);
void acrn_rs_misc_deregister(void *misc);

void *acrn_rs_poll_start(int fd, u32 mask, void (*wake)(void *data, u32 mask), void *data,
			 u32 *ready);
void *acrn_rs_poll_start_eventfd(int fd, u32 mask, void (*wake)(void *data, u32 mask),
				 void *data, u32 *ready, struct eventfd_ctx **ctx);
void acrn_rs_poll_stop(void *poll);

void *acrn_rs_worker_create(const char *name, bool (*run)(void *data), void *data);
void acrn_rs_worker_wake(void *worker);
void acrn_rs_worker_flush(void *worker);
void acrn_rs_worker_destroy(void *worker);
u64 acrn_rs_clock_ns(void);
bool acrn_rs_worker_may_poll(u64 end);

void *acrn_rs_current_mm(void);
bool acrn_rs_access_ok(u64 addr, u64 size);
int acrn_rs_get_user_u16(u64 addr, u16 *val);
int acrn_rs_put_user_u16(u64 addr, u16 val);
void *acrn_rs_umap_create(u64 uaddr, u64 len, void **kaddr);
void acrn_rs_umap_destroy(void *umap);

#endif
