/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * acrn-rs: userspace ABI of /dev/vhost-blk, an in-kernel virtio-blk data plane.
 *
 * Everything else is the standard vhost uapi of <linux/vhost.h> (owner, memory table,
 * vrings, features); the requests on the rings are virtio-blk's (<linux/virtio_blk.h>).
 *
 * VHOST_BLK_SET_BACKEND follows the uapi header of the published vhost-blk patch series
 * (none merged): number 0x50, argument struct vhost_vring_file.
 * The fd (a regular file or a block device, opened for reading, and for writing unless the
 * disk is read-only) becomes the backend of every virtqueue whose size is set; fd -1
 * detaches it, after the requests in flight have completed. The index is not used: a disk
 * has one backend. uapi/rust/tests/vhost_blk_abi.rs checks this header against the Rust
 * side (uapi/rust/src/vhost.rs).
 */

#ifndef _UAPI_VHOST_BLK_H
#define _UAPI_VHOST_BLK_H

#include <linux/vhost.h>

/* Attach (fd) or detach (-1) the disk backing every configured virtqueue. */
#define VHOST_BLK_SET_BACKEND	_IOW(VHOST_VIRTIO, 0x50, struct vhost_vring_file)

/* Most virtqueues of one device (the series' VHOST_BLK_VQ_MAX). */
#define VHOST_BLK_VQ_MAX	16

#endif
