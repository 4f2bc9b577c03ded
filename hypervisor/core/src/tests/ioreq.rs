// SPDX-License-Identifier: GPL-2.0

//! The I/O request slot machine against a Service VM played by the test (the HSM's
//! `acrn_ioreq_dispatch` and `ioreq_complete_request`, with the same acquire/release
//! accesses), including one on another thread.

use crate::error::{EINVAL, EPERM};
use crate::ioreq::*;
use acrn_uapi::acrn::{
    ACRN_IOREQ_DIR_READ, ACRN_IOREQ_DIR_WRITE, ACRN_IOREQ_STATE_COMPLETE, ACRN_IOREQ_STATE_FREE,
    ACRN_IOREQ_STATE_PENDING, ACRN_IOREQ_STATE_PROCESSING, ACRN_IOREQ_TYPE_MMIO,
    ACRN_IOREQ_TYPE_PORTIO,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A fresh page as SET_IOREQ_BUFFER leaves it: all slots FREE.
fn page() -> Box<IoreqBuffer> {
    let p = Box::new(IoreqBuffer::zeroed());
    reset_vm_ioreqs(&*p);
    p
}

/// HSM `acrn_ioreq_dispatch` for one slot: PENDING → PROCESSING, returns the request.
fn hsm_dispatch(p: &IoreqBuffer, vcpu: u16) -> Option<IoReq> {
    let s = p.slot(vcpu)?;
    if s.processed.load(Ordering::Acquire) != ACRN_IOREQ_STATE_PENDING {
        return None;
    }
    let (_, req) = read_slot(p, vcpu)?;
    s.processed
        .store(ACRN_IOREQ_STATE_PROCESSING, Ordering::Release);
    Some(req)
}

/// HSM `ioreq_complete_request`: writes the value (PIO: the u32 at offset 24, leaving junk
/// in the next 4 bytes as a PCI request's `bus` would), reads `completion_polling` before
/// the release of COMPLETE, returns whether it would call NOTIFY_REQUEST_FINISH.
fn hsm_complete(p: &IoreqBuffer, vcpu: u16, value: u64) -> bool {
    let s = p.slot(vcpu).unwrap();
    let v = if s.r#type.load(Ordering::Relaxed) == ACRN_IOREQ_TYPE_PORTIO {
        (0xdead_beef << 32) | (value & 0xffff_ffff)
    } else {
        value
    };
    s.reqs[3].store(v, Ordering::Relaxed);
    let polling = s.completion_polling.load(Ordering::Relaxed) != 0;
    s.processed
        .store(ACRN_IOREQ_STATE_COMPLETE, Ordering::Release);
    !polling
}

fn state(p: &IoreqBuffer, vcpu: u16) -> u32 {
    p.slot(vcpu).unwrap().state()
}

/// One whole round trip; returns what the vCPU gets back.
fn round_trip(p: &IoreqBuffer, vcpu: u16, req: IoReq, answer: u64) -> Option<u64> {
    let ev = IoreqEvent::new();
    insert_request(Some(p), vcpu, &req, false, &ev).unwrap();
    assert_eq!(state(p, vcpu), ACRN_IOREQ_STATE_PENDING);
    let seen = hsm_dispatch(p, vcpu).unwrap();
    assert_eq!(seen, req);
    assert_eq!(state(p, vcpu), ACRN_IOREQ_STATE_PROCESSING);
    assert!(!has_complete_ioreq(Some(p), vcpu));
    assert!(hsm_complete(p, vcpu, answer));
    assert!(has_complete_ioreq(Some(p), vcpu));
    notify_request_finish(true, vcpu, 4, false, Some(&ev)).unwrap();
    wait_for_completion(Some(p), vcpu, false, &ev, || panic!("must not wait")).unwrap();
    let v = emulate_io_complete(Some(p), vcpu, &req, false).unwrap();
    assert_eq!(state(p, vcpu), ACRN_IOREQ_STATE_FREE);
    v
}

#[test]
fn pio_round_trips_every_width() {
    let p = page();
    for (size, mask) in [(1u64, 0xffu64), (2, 0xffff), (4, 0xffff_ffff)] {
        // out: the low `size` bytes of RAX travel.
        let w = IoReq::pio(0x3f8, size, true, 0x1122_3344_5566_7788).unwrap();
        assert_eq!(w.value, 0x5566_7788 & mask);
        assert_eq!(w.direction, ACRN_IOREQ_DIR_WRITE);
        assert_eq!(round_trip(&p, 1, w, 0), None);
        let slot = p.slot(1).unwrap();
        assert_eq!(slot.r#type.load(Ordering::Relaxed), ACRN_IOREQ_TYPE_PORTIO);
        // in: the value comes back masked and merges into RAX's low bytes.
        let r = IoReq::pio(0x3f8, size, false, 0).unwrap();
        assert_eq!(r.direction, ACRN_IOREQ_DIR_READ);
        let v = round_trip(&p, 1, r, 0xa1b2_c3d4).unwrap();
        assert_eq!(v, 0xa1b2_c3d4 & mask);
        let rax = pio_read_merge(0xffff_ffff_ffff_ffff, size, v);
        assert_eq!(rax, !mask | (0xa1b2_c3d4 & mask));
    }
    assert!(IoReq::pio(0x80, 3, true, 0).is_err());
    assert!(IoReq::pio(0x80, 8, false, 0).is_err());
}

#[test]
fn pio_merge_is_acrns() {
    assert_eq!(
        pio_read_merge(0x1234_5678_9abc_def0, 1, 0x11),
        0x1234_5678_9abc_de11
    );
    assert_eq!(
        pio_read_merge(0x1234_5678_9abc_def0, 2, 0x1122),
        0x1234_5678_9abc_1122
    );
    // ACRN keeps RAX[63:32] for a 4-byte `in` (the CPU would zero-extend).
    assert_eq!(
        pio_read_merge(0x1234_5678_9abc_def0, 4, 0x1122_3344),
        0x1234_5678_1122_3344
    );
    // Junk above the width in the value never reaches RAX.
    assert_eq!(pio_read_merge(0, 1, 0xffff_ff42), 0x42);
}

#[test]
fn mmio_round_trips_every_width() {
    let p = page();
    for size in [1u64, 2, 4, 8] {
        let mask = size_mask(size);
        let w = IoReq::mmio(0xfe00_0000 + size, size, true, 0x0102_0304_0506_0708).unwrap();
        assert_eq!(w.value, 0x0102_0304_0506_0708 & mask);
        assert_eq!(round_trip(&p, 3, w, 0xffff), None);
        assert_eq!(
            p.slot(3).unwrap().r#type.load(Ordering::Relaxed),
            ACRN_IOREQ_TYPE_MMIO
        );
        let r = IoReq::mmio(0xfe00_0000, size, false, 0x55).unwrap();
        assert_eq!(r.value, 0);
        let v = round_trip(&p, 3, r, 0x8877_6655_4433_2211).unwrap();
        assert_eq!(v, 0x8877_6655_4433_2211 & mask);
    }
    assert!(IoReq::mmio(0, 16, false, 0).is_err());
    assert!(IoReq::mmio(0, 0, false, 0).is_err());
}

#[test]
fn polling_mode_sets_the_flag_and_needs_no_notify() {
    let p = page();
    let ev = IoreqEvent::new();
    let req = IoReq::mmio(0x1000, 4, false, 0).unwrap();
    insert_request(Some(&*p), 0, &req, true, &ev).unwrap();
    assert_eq!(
        p.slot(0)
            .unwrap()
            .completion_polling
            .load(Ordering::Relaxed),
        1
    );
    hsm_dispatch(&p, 0).unwrap();
    // The HSM reads completion_polling and does not notify.
    assert!(!hsm_complete(&p, 0, 7));
    // NOTIFY_REQUEST_FINISH in polling mode is accepted but signals nothing.
    notify_request_finish(true, 0, 1, true, Some(&ev)).unwrap();
    assert!(!ev.take());
    wait_for_completion(Some(&*p), 0, true, &ev, || panic!("complete")).unwrap();
    assert_eq!(
        emulate_io_complete(Some(&*p), 0, &req, false).unwrap(),
        Some(7)
    );
    // Back to notification mode: the flag is cleared.
    insert_request(Some(&*p), 0, &req, false, &ev).unwrap();
    assert_eq!(
        p.slot(0)
            .unwrap()
            .completion_polling
            .load(Ordering::Relaxed),
        0
    );
}

#[test]
fn busy_slot_and_bad_slots_are_einval() {
    let p = page();
    let ev = IoreqEvent::new();
    let req = IoReq::pio(0x60, 1, false, 0).unwrap();
    let einval = Err(crate::hv_err!(EINVAL).errno);
    let ins = |vcpu| insert_request(Some(&*p), vcpu, &req, false, &ev).map_err(|e| e.errno);
    assert_eq!(ins(2), Ok(()));
    // PENDING, PROCESSING, COMPLETE: the vCPU's slot is not FREE.
    assert_eq!(ins(2), einval);
    hsm_dispatch(&p, 2).unwrap();
    assert_eq!(ins(2), einval);
    hsm_complete(&p, 2, 0);
    assert_eq!(ins(2), einval);
    // Other vCPUs are independent.
    assert_eq!(ins(5), Ok(()));
    // Not COMPLETE yet: completion refused, slot untouched.
    assert!(emulate_io_complete(Some(&*p), 5, &req, false).is_err());
    assert_eq!(state(&p, 5), ACRN_IOREQ_STATE_PENDING);
    emulate_io_complete(Some(&*p), 2, &req, false).unwrap();
    assert_eq!(ins(2), Ok(()));
    // No slot 16, no page.
    assert_eq!(ins(16), einval);
    let none: Option<&IoreqBuffer> = None;
    assert!(insert_request(none, 0, &req, false, &ev).is_err());
    assert!(!has_complete_ioreq(none, 0));
    assert!(emulate_io_complete(none, 0, &req, false).is_err());
    // A zeroed page (no SET_IOREQ_BUFFER reset) reads PENDING everywhere: busy.
    let raw = Box::new(IoreqBuffer::zeroed());
    assert!(insert_request(Some(&*raw), 0, &req, false, &ev).is_err());
}

#[test]
fn notify_request_finish_checks() {
    let ev = IoreqEvent::new();
    let eperm = crate::hv_err!(EPERM).errno;
    assert_eq!(
        notify_request_finish(false, 0, 1, false, Some(&ev))
            .unwrap_err()
            .errno,
        eperm
    );
    assert_eq!(
        notify_request_finish(true, 1, 1, false, Some(&ev))
            .unwrap_err()
            .errno,
        eperm
    );
    assert!(!ev.take());
    notify_request_finish(true, 0, 1, false, Some(&ev)).unwrap();
    assert!(ev.take());
    assert!(!ev.take());
}

#[test]
fn early_notify_does_not_complete_a_request_in_flight() {
    let p = page();
    let ev = IoreqEvent::new();
    ev.signal(); // stale signal from an earlier request: cleared by insert
    let req = IoReq::mmio(0x2000, 2, false, 0).unwrap();
    insert_request(Some(&*p), 0, &req, false, &ev).unwrap();
    assert!(!ev.take());
    hsm_dispatch(&p, 0).unwrap();
    ev.signal(); // a spurious NOTIFY while PROCESSING
    let mut spins = 0;
    let r = wait_for_completion(Some(&*p), 0, false, &ev, || {
        spins += 1;
        spins < 10
    });
    assert_eq!(r, Err(WaitAbort::Stopped));
    assert_eq!(state(&p, 0), ACRN_IOREQ_STATE_PROCESSING);
}

#[test]
fn reset_while_pending_and_while_processing() {
    for processing in [false, true] {
        let p = page();
        let ev = IoreqEvent::new();
        let req = IoReq::mmio(0x3000, 8, false, 0).unwrap();
        insert_request(Some(&*p), 1, &req, false, &ev).unwrap();
        let other = IoReq::pio(0x70, 1, true, 5).unwrap();
        insert_request(Some(&*p), 0, &other, true, &ev).unwrap();
        if processing {
            hsm_dispatch(&p, 1).unwrap();
        }
        reset_vm_ioreqs(&*p);
        for v in 0..16 {
            assert_eq!(state(&p, v), ACRN_IOREQ_STATE_FREE);
        }
        // The waiting vCPUs learn that their requests are gone; nothing is written back.
        assert_eq!(
            wait_for_completion(Some(&*p), 1, false, &ev, || true),
            Err(WaitAbort::Reset)
        );
        assert_eq!(
            wait_for_completion(Some(&*p), 0, true, &ev, || true),
            Err(WaitAbort::Reset)
        );
        assert!(emulate_io_complete(Some(&*p), 1, &req, false).is_err());
        // The HSM no longer sees them.
        assert!(hsm_dispatch(&p, 1).is_none());
        // The slots take new requests.
        insert_request(Some(&*p), 1, &req, false, &ev).unwrap();
        insert_request(Some(&*p), 0, &other, false, &ev).unwrap();
    }
}

#[test]
fn late_completion_after_reset_is_freed_by_the_zombie_path() {
    let p = page();
    let ev = IoreqEvent::new();
    let req = IoReq::mmio(0x3000, 4, false, 0).unwrap();
    insert_request(Some(&*p), 0, &req, false, &ev).unwrap();
    hsm_dispatch(&p, 0).unwrap();
    reset_vm_ioreqs(&*p);
    // A client that finishes after the reset (ACRN's DM clears requests first with
    // ACRN_IOCTL_CLEAR_VM_IOREQ; a buggy one may not): the slot is COMPLETE again and
    // busy, until the vCPU's completion path frees it without writing anything back.
    hsm_complete(&p, 0, 0x1234);
    assert!(insert_request(Some(&*p), 0, &req, false, &ev).is_err());
    assert_eq!(emulate_io_complete(Some(&*p), 0, &req, true).unwrap(), None);
    assert_eq!(state(&p, 0), ACRN_IOREQ_STATE_FREE);
}

#[test]
fn zombie_completion_just_frees() {
    let p = page();
    let ev = IoreqEvent::new();
    let req = IoReq::pio(0x71, 1, false, 0).unwrap();
    insert_request(Some(&*p), 4, &req, false, &ev).unwrap();
    hsm_dispatch(&p, 4).unwrap();
    hsm_complete(&p, 4, 0x99);
    assert_eq!(emulate_io_complete(Some(&*p), 4, &req, true).unwrap(), None);
    assert_eq!(state(&p, 4), ACRN_IOREQ_STATE_FREE);
}

/// One thread is the vCPU (insert, wait, complete, check), the other the Service VM
/// (dispatch, complete with a value derived from the request, notify or not). Every
/// iteration checks the value the vCPU gets back, so a missing acquire/release or a slot
/// reused too early shows up as a wrong value or a hang.
fn race(polling: bool, iterations: u64) {
    let p = Arc::new(page());
    let ev = Arc::new(IoreqEvent::new());
    let hsm = {
        let (p, ev) = (Arc::clone(&p), Arc::clone(&ev));
        std::thread::spawn(move || {
            let mut served = 0;
            while served < iterations {
                if let Some(req) = hsm_dispatch(&p, 2) {
                    let answer = req.address.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ req.value;
                    if hsm_complete(&p, 2, answer) {
                        notify_request_finish(true, 2, 3, polling, Some(&ev)).unwrap();
                    }
                    served += 1;
                } else {
                    std::thread::yield_now();
                }
            }
        })
    };
    for i in 0..iterations {
        let write = i % 3 == 0;
        let size = [1u64, 2, 4, 8][(i % 4) as usize];
        let req = IoReq::mmio(0x1_0000 + i * 8, size, write, i.wrapping_mul(0x0101_0101)).unwrap();
        insert_request(Some(&**p), 2, &req, polling, &ev).unwrap();
        wait_for_completion(Some(&**p), 2, polling, &ev, || {
            std::thread::yield_now();
            true
        })
        .unwrap();
        let got = emulate_io_complete(Some(&**p), 2, &req, false).unwrap();
        let answer = req.address.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ req.value;
        if write {
            assert_eq!(got, None);
        } else {
            assert_eq!(got, Some(answer & size_mask(size)), "iteration {i}");
        }
    }
    hsm.join().unwrap();
    assert_eq!(state(&p, 2), ACRN_IOREQ_STATE_FREE);
}

#[test]
fn concurrent_completion_notify_mode() {
    race(false, 20_000);
}

#[test]
fn concurrent_completion_polling_mode() {
    race(true, 20_000);
}

#[test]
fn concurrent_reset_while_waiting() {
    // The Service VM resets the VM while the vCPU waits; the vCPU must come back with
    // `Reset` and be able to issue the next request, every time.
    let p = Arc::new(page());
    let ev = Arc::new(IoreqEvent::new());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let resetter = {
        let (p, stop) = (Arc::clone(&p), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Take it to PROCESSING half of the time before resetting.
                if n.is_multiple_of(2) {
                    let _ = hsm_dispatch(&p, 0);
                }
                if state(&p, 0) != ACRN_IOREQ_STATE_FREE {
                    reset_vm_ioreqs(&**p);
                    n += 1;
                }
                std::thread::yield_now();
            }
        })
    };
    let req = IoReq::pio(0xcfc, 4, false, 0).unwrap();
    for _ in 0..5_000 {
        insert_request(Some(&**p), 0, &req, false, &ev).unwrap();
        let r = wait_for_completion(Some(&**p), 0, false, &ev, || {
            std::thread::yield_now();
            true
        });
        assert_eq!(r, Err(WaitAbort::Reset));
    }
    stop.store(true, Ordering::Relaxed);
    resetter.join().unwrap();
}
