// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note

//! ACRN ABI for acrn-rs, with no dependencies.
//!
//! * [`acrn`]: everything in `linux/acrn.h` (the `/dev/acrn_hsm` ioctls and the I/O request
//!   page), layout-identical to Linux 6.12. Struct names are CamelCase versions of the C
//!   names without the `acrn_` prefix; fields, constants and ioctls keep their C names
//!   (`type` is `r#type`). The file is self-contained so kernel modules can include it with
//!   `#[allow(unreachable_pub, dead_code)] #[path = "…/uapi/rust/src/acrn.rs"] mod acrn_uapi;`.
//! * [`hv`]: the hypervisor side: hypercall ids and argument structs, guest flags, CPUID.
//!
//! `tests/abi.rs` checks every item against the C headers of the Linux tree and
//! `uapi/linux/acrn.h` (sizes, alignments, offsets, field types, constants, ioctl numbers,
//! hypercall ids).

#![no_std]
#![deny(missing_docs)]

/// The `linux/acrn.h` uapi: ioctl argument structs, constants and ioctl numbers.
pub mod acrn;
pub mod hv;
pub mod vhost;

#[cfg(test)]
mod tests {
    use crate::acrn::*;

    #[test]
    fn zeroed_and_union_accessors() {
        let buf = IoRequestBuffer::zeroed();
        // SAFETY: `zeroed` initialises all 4096 bytes; all-zero is a valid `IoRequest`.
        let slots = unsafe { buf.req_slot };
        assert!(slots
            .iter()
            .all(|s| s.processed == ACRN_IOREQ_STATE_PENDING));

        let mut m = VmMemmap {
            r#type: ACRN_MEMMAP_RAM,
            ..Default::default()
        };
        m.addr.vma_base = 0x7f00_0000_1000;
        assert_eq!(m.service_vm_pa(), 0x7f00_0000_1000);
        assert_eq!(m.vma_base(), 0x7f00_0000_1000);

        let id = VdevId {
            fields: VdevIdFields {
                vendor: 0x8086,
                device: 0x1234,
                legacy_id: 7,
            },
        };
        assert_eq!(id.value(), 0x0000_0007_1234_8086);
        assert_eq!(id.fields().device, 0x1234);
        assert_eq!(Vdev::default().args, [0; 128]);
    }

    #[test]
    fn ioctl_encoding() {
        // Decode with the x86 _IOC layout and check the fields, not the constants.
        let dec = |v: u32| (v >> 30, (v >> 16) & 0x3fff, (v >> 8) & 0xff, v & 0xff);
        assert_eq!(dec(ACRN_IOCTL_CREATE_VM), (3, 48, ACRN_IOCTL_TYPE, 0x10));
        assert_eq!(dec(ACRN_IOCTL_DESTROY_VM), (0, 0, ACRN_IOCTL_TYPE, 0x11));
        assert_eq!(
            dec(ACRN_IOCTL_SET_VCPU_REGS),
            (1, 296, ACRN_IOCTL_TYPE, 0x16)
        );
        assert_eq!(
            dec(ACRN_IOCTL_PM_GET_CPU_STATE),
            (3, 8, ACRN_IOCTL_TYPE, 0x60)
        );
        assert_eq!(
            dec(ACRN_IOCTL_DESTROY_VDEV),
            (1, 192, ACRN_IOCTL_TYPE, 0x5a)
        );
    }
}
