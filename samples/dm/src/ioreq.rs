// SPDX-License-Identifier: GPL-2.0

//! Reading and completing I/O requests in the shared page (acrn-dm's `vm_loop` /
//! `handle_vmexit`).
//!
//! A slot is ours when its state is PROCESSING and no kernel client handles it
//! (`kernel_handled == 0`): the HSM set it so before waking us. The state is read with
//! acquire ordering, so the request fields written before it are seen; the answer to a read
//! is written before `NOTIFY_REQUEST_FINISH`, which orders it for the hypervisor.

use acrn_uapi::acrn::{
    IoRequest, ACRN_IOREQ_DIR_READ, ACRN_IOREQ_STATE_PROCESSING, ACRN_IOREQ_TYPE_MMIO,
    ACRN_IOREQ_TYPE_PCICFG, ACRN_IOREQ_TYPE_PORTIO,
};
use std::ptr::addr_of_mut;
use std::sync::atomic::{AtomicU32, Ordering};

/// What the guest accessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// Port I/O; 0xCF8/0xCFC arrive here too (the DM does PCI configuration itself).
    Pio,
    /// Memory-mapped I/O at a guest physical address.
    Mmio,
    /// PCI configuration space (bus, device, function in `addr` bits 23:16, 15:11, 10:8;
    /// register in 7:0), as the HSM converts 0xCF8/0xCFC pairs for kernel clients.
    PciCfg,
}

/// One access of the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub space: Space,
    pub write: bool,
    /// Port, guest physical address, or PCI address (see [`Space::PciCfg`]).
    pub addr: u64,
    /// Width in bytes: 1, 2, 4 or 8.
    pub size: u8,
    /// The value written; for a read, the answer the handler fills in.
    pub value: u64,
}

/// The request in `slot` if it is ours to serve, else `None`.
///
/// # Safety
///
/// `slot` must point to a slot of a live I/O request page.
pub unsafe fn take(slot: *mut IoRequest) -> Option<Request> {
    // SAFETY: The caller guarantees the slot; `processed` is a naturally aligned u32,
    // accessed atomically by all parties.
    let state = unsafe { AtomicU32::from_ptr(addr_of_mut!((*slot).processed)) };
    if state.load(Ordering::Acquire) != ACRN_IOREQ_STATE_PROCESSING {
        return None;
    }
    // SAFETY: The slot is PROCESSING: its fields are stable until we complete it.
    let s = unsafe { &*slot };
    if s.kernel_handled != 0 {
        return None;
    }
    // SAFETY: `type` names the variant the hypervisor (or the HSM) wrote.
    let (space, dir, addr, size, value) = unsafe {
        match s.r#type {
            ACRN_IOREQ_TYPE_MMIO => {
                let m = s.reqs.mmio_request;
                (Space::Mmio, m.direction, m.address, m.size, m.value)
            }
            ACRN_IOREQ_TYPE_PORTIO => {
                let p = s.reqs.pio_request;
                (
                    Space::Pio,
                    p.direction,
                    p.address,
                    p.size,
                    u64::from(p.value),
                )
            }
            ACRN_IOREQ_TYPE_PCICFG => {
                let p = s.reqs.pci_request;
                let addr = u64::from(p.bus) << 16
                    | u64::from(p.dev) << 11
                    | u64::from(p.func) << 8
                    | u64::from(p.reg);
                (Space::PciCfg, p.direction, addr, p.size, u64::from(p.value))
            }
            _ => return None,
        }
    };
    let write = dir != ACRN_IOREQ_DIR_READ;
    Some(Request {
        space,
        write,
        addr,
        size: size.min(8) as u8,
        value: if write { value } else { 0 },
    })
}

/// Stores the answer to a read into `slot` (writes need nothing).
///
/// # Safety
///
/// As [`take`], for a slot `take` returned `req` from and not completed since.
pub unsafe fn answer(slot: *mut IoRequest, req: &Request) {
    if req.write {
        return;
    }
    // SAFETY: The slot is PROCESSING and ours: nobody else writes it until completion.
    unsafe {
        match req.space {
            Space::Mmio => (*slot).reqs.mmio_request.value = req.value,
            Space::Pio => (*slot).reqs.pio_request.value = req.value as u32,
            Space::PciCfg => (*slot).reqs.pci_request.value = req.value as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acrn_uapi::acrn::{IoRequestBuffer, ACRN_IOREQ_DIR_WRITE, ACRN_IOREQ_STATE_PENDING};

    fn page() -> Box<IoRequestBuffer> {
        Box::new(IoRequestBuffer::zeroed())
    }

    fn slot(p: &mut IoRequestBuffer, i: usize) -> *mut IoRequest {
        // SAFETY: In bounds of the page.
        unsafe { addr_of_mut!(p.req_slot[i]) }
    }

    #[test]
    fn only_processing_user_requests_are_taken() {
        let mut p = page();
        let s = slot(&mut p, 3);
        unsafe {
            (*s).r#type = ACRN_IOREQ_TYPE_PORTIO;
            (*s).reqs.pio_request.address = 0x3f8;
            (*s).reqs.pio_request.size = 1;
            (*s).reqs.pio_request.direction = ACRN_IOREQ_DIR_WRITE;
            (*s).reqs.pio_request.value = 0x41;
            (*s).processed = ACRN_IOREQ_STATE_PENDING;
            assert_eq!(take(s), None);
            (*s).processed = ACRN_IOREQ_STATE_PROCESSING;
            (*s).kernel_handled = 1;
            assert_eq!(take(s), None);
            (*s).kernel_handled = 0;
            let r = take(s).unwrap();
            assert_eq!(
                r,
                Request {
                    space: Space::Pio,
                    write: true,
                    addr: 0x3f8,
                    size: 1,
                    value: 0x41
                }
            );
        }
    }

    #[test]
    fn read_answers_land_in_the_right_variant() {
        let mut p = page();
        let s = slot(&mut p, 0);
        unsafe {
            (*s).r#type = ACRN_IOREQ_TYPE_MMIO;
            (*s).reqs.mmio_request.address = 0x3000_0008;
            (*s).reqs.mmio_request.size = 8;
            (*s).reqs.mmio_request.direction = ACRN_IOREQ_DIR_READ;
            (*s).reqs.mmio_request.value = 0xdead;
            (*s).processed = ACRN_IOREQ_STATE_PROCESSING;
            let mut r = take(s).unwrap();
            // A read starts from 0, not from whatever the slot held.
            assert_eq!(r.value, 0);
            r.value = 0x0123_4567_89ab_cdef;
            answer(s, &r);
            assert_eq!((*s).reqs.mmio_request.value, 0x0123_4567_89ab_cdef);
            (*s).r#type = ACRN_IOREQ_TYPE_PORTIO;
            (*s).reqs.pio_request.direction = ACRN_IOREQ_DIR_READ;
            let mut r = take(s).unwrap();
            r.value = 0x1_0000_00ff;
            answer(s, &r);
            assert_eq!((*s).reqs.pio_request.value, 0xff);
        }
    }

    #[test]
    fn pci_addresses_are_packed() {
        let mut p = page();
        let s = slot(&mut p, 1);
        unsafe {
            (*s).r#type = ACRN_IOREQ_TYPE_PCICFG;
            (*s).reqs.pci_request.bus = 1;
            (*s).reqs.pci_request.dev = 2;
            (*s).reqs.pci_request.func = 3;
            (*s).reqs.pci_request.reg = 0x10;
            (*s).reqs.pci_request.size = 4;
            (*s).processed = ACRN_IOREQ_STATE_PROCESSING;
            let r = take(s).unwrap();
            assert_eq!(r.space, Space::PciCfg);
            assert_eq!(r.addr, 1 << 16 | 2 << 11 | 3 << 8 | 0x10);
            assert!(!r.write);
        }
    }
}
