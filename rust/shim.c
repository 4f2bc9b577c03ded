// SPDX-License-Identifier: GPL-2.0
/*
 * C side of the acrn-rs kernel extensions. Not built on its own: a module's C shim
 * #includes this file, so each module carries its own private copy.
 */
#include <linux/miscdevice.h>
#include <linux/slab.h>
#include "shim.h"

/*
 * Registers a misc device with a dynamic minor. On success *out holds an opaque handle for
 * acrn_rs_misc_deregister(). @name and @fops must stay valid until then.
 */
int acrn_rs_misc_register(const char *name, const struct file_operations *fops, void **out)
{
	struct miscdevice *misc;
	int ret;

	misc = kzalloc(sizeof(*misc), GFP_KERNEL);
	if (!misc)
		return -ENOMEM;
	misc->minor = MISC_DYNAMIC_MINOR;
	misc->name = name;
	misc->fops = fops;
	ret = misc_register(misc);
	if (ret) {
		kfree(misc);
		return ret;
	}
	*out = misc;
	return 0;
}

void acrn_rs_misc_deregister(void *misc)
{
	misc_deregister(misc);
	kfree(misc);
}
