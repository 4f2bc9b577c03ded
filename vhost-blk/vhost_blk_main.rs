// SPDX-License-Identifier: GPL-2.0

//! vhost-blk in Rust: an in-kernel virtio-blk data plane with the vhost uapi.
//!
//! A device model (ACRN's `acrn-dm`, QEMU, or a test harness) opens the device node, becomes
//! its owner (`VHOST_SET_OWNER`), describes the guest memory (`VHOST_SET_MEM_TABLE`) and up
//! to [`device::NVQS`] request queues (size, addresses, base, kick and call eventfds), then
//! attaches a disk: a regular file or a block device (`VHOST_BLK_SET_BACKEND`, from the
//! published vhost-blk series; `uapi/linux/vhost_blk.h`). Requests are served
//! asynchronously, many in flight per queue. The node is `/dev/vhost-blk` by default
//! (module parameter `node_name`).

use kernel::{prelude::*, str::CStr};

#[path = "../rust/lib.rs"]
mod kext;

#[allow(dead_code, unreachable_pub)]
#[path = "../uapi/rust/src/vhost.rs"]
mod uapi;

#[allow(dead_code, unreachable_pub)]
#[path = "../rust/vring/src/vring/mod.rs"]
mod vring;

#[path = "../rust/vhost/mod.rs"]
mod vhost;

mod blk;
mod device;
mod disk;
mod helper;
mod io;
mod ioctl;
mod request;

use kext::miscdev::Registration;

module! {
    type: VhostBlkModule,
    name: "vhost_blk_rs",
    author: "acrn-rs developers",
    description: "vhost-blk in Rust: virtio-blk data plane with the vhost uapi",
    license: "GPL",
}

extern "C" {
    fn vhost_blk_rs_node_name() -> *const kernel::ffi::c_char;
}

struct VhostBlkModule {
    _device: Registration<device::VhostBlk>,
}

impl kernel::Module for VhostBlkModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // SAFETY: The module parameter is a NUL-terminated string that lives as long as the
        // module (it is only written at load time).
        let name = unsafe { CStr::from_char_ptr(vhost_blk_rs_node_name()) };
        Ok(Self {
            _device: Registration::register(name, module)?,
        })
    }
}
