// SPDX-License-Identifier: GPL-2.0

//! The I/O request upcall: the hypervisor's interrupt (vector 0xF3, through the kernel's
//! `acrn_setup_intr_handler`) queues the dispatcher on an ordered high-priority workqueue
//! (`hsm_shim.c`), which scans every VM's slots ([`Ioreqs::dispatch`]).
//!
//! Only one HSM can own the upcall: load `acrn.ko` or `acrn_hsm.ko`, not both.
//!
//! The VMs with I/O requests are kept in a module-wide list ([`Upcall`]), registered by
//! [`UpcallRegistration`] for the lifetime of the module.

use crate::ioreq::Ioreqs;
use core::{
    ptr::null_mut,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{
    bindings, error::to_result, ffi::c_void, new_mutex, prelude::*, sync::Arc, sync::Mutex,
    workqueue::Queue,
};

extern "C" {
    fn acrn_hsm_upcall_setup(dispatch: extern "C" fn()) -> i32;
    fn acrn_hsm_upcall_remove();
    fn acrn_hsm_upcall_pause();
    fn acrn_hsm_upcall_resume();
    fn acrn_hsm_aux_wq() -> *mut c_void;
}

/// The VMs the dispatcher scans.
#[pin_data]
pub(crate) struct Upcall {
    #[pin]
    vms: Mutex<KVec<Arc<Ioreqs>>>,
}

/// The registered [`Upcall`]; non-null from [`UpcallRegistration::new`] to its drop.
static UPCALL: AtomicPtr<Upcall> = AtomicPtr::new(null_mut());

/// The module's upcall: the VM list, the workqueues and the interrupt handler.
pub(crate) struct UpcallRegistration {
    upcall: Pin<KBox<Upcall>>,
}

impl UpcallRegistration {
    /// Installs the handler. Only one may exist (one module instance).
    pub(crate) fn new() -> Result<Self> {
        let upcall = KBox::pin_init(
            pin_init!(Upcall {
                vms <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )?;
        UPCALL.store((&*upcall as *const Upcall).cast_mut(), Ordering::Release);
        // SAFETY: `dispatch` may run from now on; it finds `UPCALL` set.
        if let Err(e) = to_result(unsafe { acrn_hsm_upcall_setup(dispatch) }) {
            UPCALL.store(null_mut(), Ordering::Release);
            return Err(e);
        }
        Ok(Self { upcall })
    }
}

impl Drop for UpcallRegistration {
    fn drop(&mut self) {
        // SAFETY: Set up in `new`; after this no dispatcher runs or is queued.
        unsafe { acrn_hsm_upcall_remove() };
        UPCALL.store(null_mut(), Ordering::Release);
        // Every file is closed by now (each holds a module reference), so the list is empty.
        debug_assert!(self.upcall.vms.lock().is_empty());
    }
}

/// The registered upcall.
fn upcall() -> Option<&'static Upcall> {
    let ptr = UPCALL.load(Ordering::Acquire);
    // SAFETY: A non-null `UPCALL` points to the `Upcall` of the live registration, which is
    // dropped only after module exit removed the device and the dispatcher; callers run in a
    // file operation or the dispatcher, so before that.
    unsafe { ptr.as_ref() }
}

/// The dispatcher work: scans every VM once.
extern "C" fn dispatch() {
    let Some(upcall) = upcall() else {
        return;
    };
    for vm in upcall.vms.lock().iter() {
        vm.dispatch();
    }
}

/// Adds `vm` to the VMs the dispatcher scans.
pub(crate) fn add(vm: Arc<Ioreqs>) -> Result {
    let upcall = upcall().ok_or(ENODEV)?;
    upcall.vms.lock().push(vm, GFP_KERNEL)?;
    Ok(())
}

/// The VM with id `vmid`, if any.
pub(crate) fn find(vmid: u16) -> Option<Arc<Ioreqs>> {
    upcall()?
        .vms
        .lock()
        .iter()
        .find(|v| v.vmid() == vmid)
        .cloned()
}

/// Removes `vm` from the dispatcher's list; once this returns the dispatcher does not look at
/// it again.
pub(crate) fn remove(vm: &Arc<Ioreqs>) {
    let Some(upcall) = upcall() else {
        return;
    };
    let mut vms = upcall.vms.lock();
    if let Some(i) = vms.iter().position(|v| Arc::ptr_eq(v, vm)) {
        drop(crate::client::swap_remove(&mut vms, i));
    }
}

/// Dispatching stopped (C `ioreq_pause`): no upcall handler, no dispatcher running or queued.
/// Dropping it resumes (C `ioreq_resume`) and scans once for upcalls missed meanwhile.
/// Pauses are serialised; never create one in the dispatcher or while holding one.
pub(crate) struct Paused(());

impl Paused {
    /// Pauses dispatching; waits for a running dispatcher to finish.
    pub(crate) fn new() -> Self {
        // SAFETY: Called from process context, not from the dispatcher; paired with the
        // resume in `drop` on the same task.
        unsafe { acrn_hsm_upcall_pause() };
        Self(())
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        // SAFETY: Pairs with the pause in `new`, on the same task.
        unsafe { acrn_hsm_upcall_resume() };
    }
}

/// A workqueue for deferred work that must finish before the module goes away (it is drained
/// when the module is unloaded).
pub(crate) fn aux_queue() -> &'static Queue {
    // SAFETY: The queue exists from `UpcallRegistration::new` to its drop at module exit;
    // callers run in file operations or callbacks of objects those create, all of which end
    // before module exit. `bindings::workqueue_struct` is what the C pointer points to.
    unsafe { Queue::from_raw(acrn_hsm_aux_wq().cast::<bindings::workqueue_struct>()) }
}
