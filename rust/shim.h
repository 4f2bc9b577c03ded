/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C side of the acrn-rs kernel extensions (rust/lib.rs): what bindgen can not reach in 6.12
 * (struct miscdevice and misc_register() are not in the kernel crate's bindings).
 */
#ifndef ACRN_RS_SHIM_H
#define ACRN_RS_SHIM_H

struct file_operations;

int acrn_rs_misc_register(const char *name, const struct file_operations *fops, void **out);
void acrn_rs_misc_deregister(void *misc);

#endif
