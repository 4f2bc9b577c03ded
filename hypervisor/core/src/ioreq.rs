// SPDX-License-Identifier: GPL-2.0

//! The hypervisor's side of the I/O request page: the per-vCPU slot machine of ACRN
//! `dm/io_req.c` (`acrn_insert_request`, `has_complete_ioreq`, `dm_emulate_io_complete`,
//! `complete_ioreq`, `emulate_pio_complete`, `reset_vm_ioreqs`) and the check of
//! `hcall_notify_ioreq_finish` (`common/hypercall.c`).
//!
//! ```text
//!   hypervisor                      Service VM (HSM)
//!   FREE --insert_request--> PENDING --dispatch--> PROCESSING --client done--> COMPLETE
//!    ^                                                                            |
//!    +--------------------------- emulate_io_complete ----------------------------+
//! ```
//!
//! Slot = vCPU id. FREE and COMPLETE slots belong to the hypervisor, PENDING and PROCESSING
//! ones to the Service VM. A vCPU can only issue a request while its slot is FREE (-EINVAL
//! otherwise, as `acrn_insert_request`).
//!
//! The page is shared with a guest that may write anything at any time, so every access
//! to it is atomic ([`IoreqSlot`] is the 256-byte `struct acrn_io_request` made of atomics):
//! no data race is possible whatever the Service VM does, and the orderings that matter are
//! explicit, on `processed`:
//!
//! | here | ACRN | pairs with (HSM) |
//! |---|---|---|
//! | `insert_request`: Release store of PENDING | `cpu_write_memory_barrier()` then `set_io_req_state(PENDING)` | `smp_load_acquire(&processed)` in `acrn_ioreq_dispatch` |
//! | `insert_request`: Acquire load of FREE | plain `get_io_req_state` (x86 TSO) | our own Release stores of FREE (reset on another pCPU) |
//! | `has_complete_ioreq`: Acquire load of COMPLETE | plain `get_io_req_state` (x86 TSO) | `smp_store_release(&processed, COMPLETE)` in `ioreq_complete_request` |
//! | `complete_ioreq` / `reset_vm_ioreqs`: Release store of FREE | none ("Don't need barrier") | our Acquire load in the next `insert_request` |
//!
//! On x86 all four compile to plain `mov`s (TSO); the orderings keep the compiler from
//! reordering the data accesses around them and make the model sound for the tests, which
//! run the Service VM on another thread. ACRN's `stac()`/`clac()` (SMAP) around page
//! accesses are the mapping's business, not this module's.
//!
//! Waiting is the caller's: after [`insert_request`] it either polls [`has_complete_ioreq`]
//! (polling mode, `completion_polling` = 1) or waits for the [`IoreqEvent`] that
//! NOTIFY_REQUEST_FINISH signals ([`notify_request_finish`]), then calls
//! [`emulate_io_complete`]. [`wait_for_completion`] is that loop with a caller-supplied
//! pause/abort hook.

use crate::error::{HvResult, EINVAL, EPERM};
use crate::hv_err;
use acrn_uapi::acrn::{
    IoRequest, ACRN_IOREQ_DIR_READ, ACRN_IOREQ_DIR_WRITE, ACRN_IOREQ_STATE_COMPLETE,
    ACRN_IOREQ_STATE_FREE, ACRN_IOREQ_STATE_PENDING, ACRN_IOREQ_TYPE_MMIO, ACRN_IOREQ_TYPE_PORTIO,
    ACRN_IO_REQUEST_MAX,
};
use core::mem::{offset_of, size_of};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// One 256-byte slot of the I/O request page, `struct acrn_io_request` with every field
/// atomic (same size, alignment and offsets, checked at compile time against
/// [`acrn_uapi::acrn::IoRequest`]). `reqs` is seen as eight `u64`s: `direction` and
/// `reserved` in word 0, `address` in 1, `size` in 2, `value` in 3 (a PIO/PCI `value` is
/// the low 32 bits of word 3, little-endian).
#[repr(C, align(256))]
pub struct IoreqSlot {
    /// `type`, `ACRN_IOREQ_TYPE_*`.
    pub r#type: AtomicU32,
    /// `completion_polling`.
    pub completion_polling: AtomicU32,
    reserved0: [AtomicU32; 14],
    /// The `reqs` union as eight words.
    pub reqs: [AtomicU64; 8],
    reserved1: AtomicU32,
    /// `kernel_handled` (written by the HSM only).
    pub kernel_handled: AtomicU32,
    /// `processed`, the state, `ACRN_IOREQ_STATE_*`.
    pub processed: AtomicU32,
}

const _: () = assert!(size_of::<IoreqSlot>() == size_of::<IoRequest>());
const _: () = assert!(core::mem::align_of::<IoreqSlot>() == core::mem::align_of::<IoRequest>());
const _: () = assert!(offset_of!(IoreqSlot, r#type) == offset_of!(IoRequest, r#type));
const _: () =
    assert!(offset_of!(IoreqSlot, completion_polling) == offset_of!(IoRequest, completion_polling));
const _: () = assert!(offset_of!(IoreqSlot, reqs) == offset_of!(IoRequest, reqs));
const _: () =
    assert!(offset_of!(IoreqSlot, kernel_handled) == offset_of!(IoRequest, kernel_handled));
const _: () = assert!(offset_of!(IoreqSlot, processed) == offset_of!(IoRequest, processed));

/// Word of `reqs` holding `direction` (low 32 bits).
const W_DIRECTION: usize = 0;
/// Word of `reqs` holding `address`.
const W_ADDRESS: usize = 1;
/// Word of `reqs` holding `size`.
const W_SIZE: usize = 2;
/// Word of `reqs` holding `value`.
const W_VALUE: usize = 3;

impl IoreqSlot {
    /// A slot with every byte zero (state PENDING, as a fresh zeroed page).
    pub const fn zeroed() -> Self {
        #[allow(clippy::declare_interior_mutable_const)]
        const Z32: AtomicU32 = AtomicU32::new(0);
        #[allow(clippy::declare_interior_mutable_const)]
        const Z64: AtomicU64 = AtomicU64::new(0);
        Self {
            r#type: Z32,
            completion_polling: Z32,
            reserved0: [Z32; 14],
            reqs: [Z64; 8],
            reserved1: Z32,
            kernel_handled: Z32,
            processed: Z32,
        }
    }

    /// The state (`processed`), Acquire: what the other side wrote before its Release
    /// store of this state is visible afterwards.
    pub fn state(&self) -> u32 {
        self.processed.load(Ordering::Acquire)
    }
}

/// The whole 4 KiB page: 16 slots, indexed by vCPU id (for tests and for mapping the
/// Service VM page in the hypervisor).
#[repr(C, align(4096))]
pub struct IoreqBuffer(pub [IoreqSlot; ACRN_IO_REQUEST_MAX]);

const _: () = assert!(size_of::<IoreqBuffer>() == 4096);

impl IoreqBuffer {
    /// A page with every byte zero.
    pub const fn zeroed() -> Self {
        #[allow(clippy::declare_interior_mutable_const)]
        const Z: IoreqSlot = IoreqSlot::zeroed();
        Self([Z; ACRN_IO_REQUEST_MAX])
    }
}

/// The I/O request page of one VM as the hypervisor sees it. The hypervisor implements it
/// over the Service VM page that SET_IOREQ_BUFFER named (mapped, page-aligned, RAM); tests
/// over an [`IoreqBuffer`] of their own.
pub trait IoreqPage {
    /// The slot of vCPU `vcpu_id`, `None` beyond the page's 16 slots.
    fn slot(&self, vcpu_id: u16) -> Option<&IoreqSlot>;
}

impl IoreqPage for IoreqBuffer {
    fn slot(&self, vcpu_id: u16) -> Option<&IoreqSlot> {
        self.0.get(usize::from(vcpu_id))
    }
}

/// Request type, the `type` of the slot. The hypervisor only emits these two; PCICFG
/// requests are made by the HSM out of PORTIO ones (0xCF8/0xCFC), in place, and complete
/// like PORTIO (same `value` offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoreqType {
    /// `ACRN_IOREQ_TYPE_PORTIO`: `address` is the port, `value` 32 bits.
    Pio,
    /// `ACRN_IOREQ_TYPE_MMIO`: `address` is the guest physical address, `value` 64 bits.
    Mmio,
}

/// The hypervisor's copy of a request (ACRN's `struct io_request` in `vcpu->req`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoReq {
    /// PIO or MMIO.
    pub kind: IoreqType,
    /// `ACRN_IOREQ_DIR_READ` or `ACRN_IOREQ_DIR_WRITE`.
    pub direction: u32,
    /// Port or guest physical address.
    pub address: u64,
    /// Width in bytes: 1, 2, 4 (PIO) or 1, 2, 4, 8 (MMIO).
    pub size: u64,
    /// The value written (masked to `size`); for reads 0 until completion.
    pub value: u64,
}

/// Mask of the low `size` bytes (`size` in 1..=8).
pub const fn size_mask(size: u64) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * size)) - 1
    }
}

impl IoReq {
    /// A port I/O request as `pio_instr_vmexit_handler` builds it: a write carries the low
    /// `size` bytes of RAX. Fails with -EINVAL for a width other than 1, 2 or 4.
    pub fn pio(port: u16, size: u64, write: bool, rax: u64) -> HvResult<Self> {
        if !matches!(size, 1 | 2 | 4) {
            return Err(hv_err!(EINVAL));
        }
        Ok(Self {
            kind: IoreqType::Pio,
            direction: if write {
                ACRN_IOREQ_DIR_WRITE
            } else {
                ACRN_IOREQ_DIR_READ
            },
            address: u64::from(port),
            size,
            value: if write { rax & size_mask(size) } else { 0 },
        })
    }

    /// An MMIO request for the decoded access; a write carries `value` masked to `size`.
    /// Fails with -EINVAL for a width other than 1, 2, 4 or 8.
    pub fn mmio(gpa: u64, size: u64, write: bool, value: u64) -> HvResult<Self> {
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Err(hv_err!(EINVAL));
        }
        Ok(Self {
            kind: IoreqType::Mmio,
            direction: if write {
                ACRN_IOREQ_DIR_WRITE
            } else {
                ACRN_IOREQ_DIR_READ
            },
            address: gpa,
            size,
            value: if write { value & size_mask(size) } else { 0 },
        })
    }

    /// Whether the guest reads (a value comes back at completion).
    pub fn is_read(&self) -> bool {
        self.direction == ACRN_IOREQ_DIR_READ
    }
}

/// The per-vCPU `VCPU_EVENT_IOREQ` (ACRN `struct sched_event`): set by
/// NOTIFY_REQUEST_FINISH, consumed by the waiting vCPU.
#[derive(Debug, Default)]
pub struct IoreqEvent(AtomicBool);

impl IoreqEvent {
    /// An unsignalled event.
    pub const fn new() -> Self {
        Self(AtomicBool::new(false))
    }

    /// `signal_event`.
    pub fn signal(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// `reset_event`: clear a stale signal.
    pub fn reset(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// Consumes the signal if set (one step of `wait_event`).
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::Acquire)
    }
}

/// `acrn_insert_request`: puts `req` in vCPU `vcpu_id`'s slot and marks it PENDING; the
/// caller then raises the upcall (`arch_fire_hsm_interrupt`) and waits.
///
/// -EINVAL when the VM has no I/O request page, `vcpu_id` has no slot, or the slot is not
/// FREE (a request is still in flight). `completion_polling` is written as 1 in polling
/// mode and as 0 otherwise (ACRN only ever writes 1; the flag is fixed per VM, so only a
/// stale value left by the Service VM itself differs).
pub fn insert_request<P: IoreqPage + ?Sized>(
    page: Option<&P>,
    vcpu_id: u16,
    req: &IoReq,
    polling: bool,
    event: &IoreqEvent,
) -> HvResult {
    let slot = page.and_then(|p| p.slot(vcpu_id)).ok_or(hv_err!(EINVAL))?;
    if slot.state() != ACRN_IOREQ_STATE_FREE {
        return Err(hv_err!(EINVAL));
    }
    let r#type = match req.kind {
        IoreqType::Pio => ACRN_IOREQ_TYPE_PORTIO,
        IoreqType::Mmio => ACRN_IOREQ_TYPE_MMIO,
    };
    slot.r#type.store(r#type, Ordering::Relaxed);
    let words = [
        u64::from(req.direction),
        req.address,
        req.size,
        req.value,
        0,
        0,
        0,
        0,
    ];
    for (w, v) in slot.reqs.iter().zip(words) {
        w.store(v, Ordering::Relaxed);
    }
    slot.completion_polling
        .store(u32::from(polling), Ordering::Relaxed);
    // ACRN: "Must clear the signal before we mark req as pending": once PENDING, the HSM
    // may complete and notify before the upcall is even sent.
    event.reset();
    // ACRN `cpu_write_memory_barrier()` + `set_io_req_state(PENDING)`: everything above is
    // visible to the HSM's `smp_load_acquire(&processed)` that sees PENDING.
    slot.processed
        .store(ACRN_IOREQ_STATE_PENDING, Ordering::Release);
    Ok(())
}

/// `has_complete_ioreq`: whether vCPU `vcpu_id`'s slot is COMPLETE. Acquire, pairing with
/// the HSM's `smp_store_release(COMPLETE)`, so the value it wrote is visible afterwards.
pub fn has_complete_ioreq<P: IoreqPage + ?Sized>(page: Option<&P>, vcpu_id: u16) -> bool {
    page.and_then(|p| p.slot(vcpu_id))
        .is_some_and(|s| s.state() == ACRN_IOREQ_STATE_COMPLETE)
}

/// `dm_emulate_io_complete` + `complete_ioreq`: if the slot is COMPLETE, takes the value
/// the Service VM wrote (for reads of a live vCPU: `Some(value)` masked to the request's
/// width; `None` for writes) and sets the slot FREE.
///
/// A `zombie` vCPU (paused for destruction or reset) just gets its slot freed and `None`
/// (ACRN `complete_ioreq(vcpu, NULL)`). -EINVAL if the slot is not COMPLETE (nothing
/// changes: the vCPU keeps waiting or was reset).
pub fn emulate_io_complete<P: IoreqPage + ?Sized>(
    page: Option<&P>,
    vcpu_id: u16,
    req: &IoReq,
    zombie: bool,
) -> HvResult<Option<u64>> {
    let slot = page.and_then(|p| p.slot(vcpu_id)).ok_or(hv_err!(EINVAL))?;
    if slot.state() != ACRN_IOREQ_STATE_COMPLETE {
        return Err(hv_err!(EINVAL));
    }
    let value = if zombie {
        None
    } else {
        let raw = slot.reqs[W_VALUE].load(Ordering::Relaxed);
        let raw = match req.kind {
            // `pio_request.value` is a u32 at offset 24: the low half of word 3.
            IoreqType::Pio => raw & 0xffff_ffff,
            IoreqType::Mmio => raw,
        };
        req.is_read().then_some(raw & size_mask(req.size))
    };
    // ACRN: "Only HV will check whether ioreq is complete. Don't need barrier". Release
    // anyway (free on x86): our reads above come before the slot can be reused.
    slot.processed
        .store(ACRN_IOREQ_STATE_FREE, Ordering::Release);
    Ok(value)
}

/// `emulate_pio_complete`: merges a PIO read's value into RAX as ACRN does, replacing the
/// low `size` bytes and keeping the rest. Note that for `in eax` this keeps RAX[63:32]
/// where the hardware zero-extends; ACRN behaves the same.
pub fn pio_read_merge(rax: u64, size: u64, value: u64) -> u64 {
    let mask = size_mask(size) & 0xffff_ffff;
    (rax & !mask) | (value & mask)
}

/// `reset_vm_ioreqs` (RESET_VM, and SET_IOREQ_BUFFER for a new page): every slot FREE.
/// A request still PENDING or PROCESSING is forgotten; its vCPU must not wait for it.
pub fn reset_vm_ioreqs<P: IoreqPage + ?Sized>(page: &P) {
    for id in 0..ACRN_IO_REQUEST_MAX as u16 {
        if let Some(s) = page.slot(id) {
            s.processed.store(ACRN_IOREQ_STATE_FREE, Ordering::Release);
        }
    }
}

/// `hcall_notify_ioreq_finish` once the target VM is known: -1 (-EPERM, ACRN's bare
/// `ret = -1`) without an I/O request page or for `vcpu_id >= created_vcpus`; otherwise
/// signals the vCPU's event unless the VM polls.
pub fn notify_request_finish(
    has_page: bool,
    vcpu_id: u16,
    created_vcpus: u16,
    polling: bool,
    event: Option<&IoreqEvent>,
) -> HvResult {
    if !has_page || vcpu_id >= created_vcpus {
        return Err(hv_err!(EPERM));
    }
    if !polling {
        if let Some(e) = event {
            e.signal();
        }
    }
    Ok(())
}

/// Why [`wait_for_completion`] returned without a COMPLETE slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitAbort {
    /// The `pause` hook asked to stop (vCPU paused, zombie, reset).
    Stopped,
    /// The slot was freed under the vCPU (`reset_vm_ioreqs`): the request is gone.
    Reset,
}

/// The waiting half of `acrn_insert_request`: in polling mode spins on
/// [`has_complete_ioreq`], otherwise waits for `event` (and then checks the state, so a
/// spurious or early NOTIFY_REQUEST_FINISH does not complete a request still in flight).
/// A slot found FREE means `reset_vm_ioreqs` dropped the request. `pause` runs between
/// checks (PAUSE, HLT, a reschedule); returning false aborts.
pub fn wait_for_completion<P: IoreqPage + ?Sized>(
    page: Option<&P>,
    vcpu_id: u16,
    polling: bool,
    event: &IoreqEvent,
    mut pause: impl FnMut() -> bool,
) -> Result<(), WaitAbort> {
    let slot = page.and_then(|p| p.slot(vcpu_id)).ok_or(WaitAbort::Reset)?;
    loop {
        match slot.state() {
            ACRN_IOREQ_STATE_FREE => return Err(WaitAbort::Reset),
            ACRN_IOREQ_STATE_COMPLETE if polling || event.take() => return Ok(()),
            _ => {}
        }
        if !pause() {
            return Err(WaitAbort::Stopped);
        }
    }
}

/// The request currently in vCPU `vcpu_id`'s slot, decoded (what the HSM sees; for tests
/// and for the register dump).
pub fn read_slot<P: IoreqPage + ?Sized>(page: &P, vcpu_id: u16) -> Option<(u32, IoReq)> {
    let s = page.slot(vcpu_id)?;
    let state = s.state();
    let kind = match s.r#type.load(Ordering::Relaxed) {
        ACRN_IOREQ_TYPE_PORTIO => IoreqType::Pio,
        ACRN_IOREQ_TYPE_MMIO => IoreqType::Mmio,
        _ => return None,
    };
    let w = |i: usize| s.reqs[i].load(Ordering::Relaxed);
    Some((
        state,
        IoReq {
            kind,
            direction: w(W_DIRECTION) as u32,
            address: w(W_ADDRESS),
            size: w(W_SIZE),
            value: w(W_VALUE),
        },
    ))
}
