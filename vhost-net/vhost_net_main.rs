// SPDX-License-Identifier: GPL-2.0

//! vhost-net in Rust: an in-kernel virtio-net data plane with the standard vhost uapi.
//!
//! A device model (ACRN's `acrn-dm`, QEMU, or a test harness) opens the device node, becomes
//! its owner (`VHOST_SET_OWNER`: its address space is where the rings and the guest's memory
//! are), describes the guest memory (`VHOST_SET_MEM_TABLE`) and the two virtqueues (0 = RX,
//! 1 = TX: size, addresses, base, kick and call eventfds), and attaches a tap or raw packet
//! socket (`VHOST_NET_SET_BACKEND`). The node is `/dev/vhost-net-rs` by default (module
//! parameter `node_name`), so it can sit beside Linux's C `vhost_net.ko` (`/dev/vhost-net`).

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

mod backend;
mod device;
mod ioctl;
mod net;
mod vq;

use kext::miscdev::Registration;

module! {
    type: VhostNetModule,
    name: "vhost_net_rs",
    author: "acrn-rs developers",
    description: "vhost-net in Rust: virtio-net data plane with the vhost uapi",
    license: "GPL",
}

extern "C" {
    fn vhost_net_rs_node_name() -> *const kernel::ffi::c_char;
}

struct VhostNetModule {
    _device: Registration<device::VhostNet>,
}

impl kernel::Module for VhostNetModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // SAFETY: The module parameter is a NUL-terminated string that lives as long as the
        // module (it is only written at load time).
        let name = unsafe { CStr::from_char_ptr(vhost_net_rs_node_name()) };
        Ok(Self {
            _device: Registration::register(name, module)?,
        })
    }
}
