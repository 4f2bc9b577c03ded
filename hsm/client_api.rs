// SPDX-License-Identifier: GPL-2.0

//! The in-kernel I/O request client API for other modules, as C functions exported by
//! `hsm_shim.c` (`EXPORT_SYMBOL_GPL`); see `Documentation/hsm.rst` for the C declarations.
//!
//! Within this crate the same operations are Rust methods: [`Client::new`],
//! [`Ioreqs::add_client`], [`Client::add_range`], [`Client::del_range`],
//! [`Ioreqs::complete`], [`Ioreqs::destroy_client`] (ioeventfd is a user), and
//! [`GuestRam::map`](crate::guest_ram::GuestRam::map) through [`Ioreqs::ram`].
//!
//! Handles are opaque pointers: a VM reference (`acrn_hsm_vm_get`/`_put`) keeps the VM's
//! request page, state and guest RAM mappings alive (not the VM itself: requests stop when it
//! is destroyed), and a client handle is owned by its creator until
//! `acrn_hsm_client_destroy`. The C declarations are in `acrn_hsm_client.h`.

use crate::{
    acrn::IoRequest,
    client::{Client, Completion, IoreqHandler},
    ioreq::Ioreqs,
    upcall,
};
use kernel::{
    ffi::{c_int, c_void},
    prelude::*,
    sync::Arc,
};

/// A C handler: returns 0 to complete the request now, 1 to complete it later with
/// `acrn_hsm_client_complete`, a negative errno on failure (logged; the request is completed
/// with whatever the handler left in it, so the vCPU does not hang).
type CHandlerFn = unsafe extern "C" fn(priv_: *mut c_void, vcpu: u16, req: *mut IoRequest) -> c_int;

/// A [`IoreqHandler`] calling a C function.
struct CHandler {
    func: CHandlerFn,
    priv_: *mut c_void,
}

// SAFETY: The creator of the client promises (API contract) that `func` may be called with
// `priv_` from any thread.
unsafe impl Send for CHandler {}
// SAFETY: As above; the handler is called by one dispatcher at a time.
unsafe impl Sync for CHandler {}

impl IoreqHandler for CHandler {
    fn handle(&self, vcpu: u16, req: &mut IoRequest) -> Completion {
        // SAFETY: `func` and `priv_` come from the client's creator, who keeps them valid
        // until `acrn_hsm_client_destroy` returns; `req` is a valid exclusive request copy.
        match unsafe { (self.func)(self.priv_, vcpu, req) } {
            1 => Completion::Later,
            0 => Completion::Now,
            err => {
                pr_err!("I/O request handler failed: {}\n", err);
                Completion::Now
            }
        }
    }
}

/// A client owned by another module.
struct ClientHandle {
    ioreqs: Arc<Ioreqs>,
    client: Arc<Client>,
}

/// Returns a reference to VM `vmid`'s I/O side, or NULL if no VM of this HSM has that id.
#[no_mangle]
pub(crate) extern "C" fn acrn_hsm_vm_get(vmid: u16) -> *const c_void {
    match upcall::find(vmid) {
        Some(ioreqs) => Arc::into_raw(ioreqs).cast(),
        None => core::ptr::null(),
    }
}

/// Drops a reference from `acrn_hsm_vm_get`.
///
/// # Safety
///
/// `vm` must come from `acrn_hsm_vm_get` and not be used afterwards.
#[no_mangle]
pub(crate) unsafe extern "C" fn acrn_hsm_vm_put(vm: *const c_void) {
    if !vm.is_null() {
        // SAFETY: By the function's contract `vm` is a reference made by `Arc::into_raw`.
        drop(unsafe { Arc::from_raw(vm.cast::<Ioreqs>()) });
    }
}

/// The number of vCPUs (request slots) of `vm`.
///
/// # Safety
///
/// `vm` must be a live reference from `acrn_hsm_vm_get`.
#[no_mangle]
pub(crate) unsafe extern "C" fn acrn_hsm_vm_vcpu_num(vm: *const c_void) -> u16 {
    // SAFETY: By the function's contract `vm` points to a live `Ioreqs`.
    unsafe { &*vm.cast::<Ioreqs>() }.vcpu_num()
}

/// The kernel address of `len` bytes of `vm`'s guest-physical memory at `gpa`, which must lie
/// wholly inside one RAM `SET_MEMSEG`, or an `ERR_PTR`: `-EINVAL` (`len` 0, wrapping range),
/// `-EFAULT` (not inside one RAM segment), `-ENODEV` (the VM was destroyed). The memory stays
/// mapped while the caller holds `vm`, even across the VM's destruction; it is shared with the
/// running guest. May sleep.
///
/// # Safety
///
/// `vm` must be a live reference from `acrn_hsm_vm_get`.
#[no_mangle]
pub(crate) unsafe extern "C" fn acrn_hsm_vm_map_guest(
    vm: *const c_void,
    gpa: u64,
    len: usize,
) -> *mut c_void {
    // SAFETY: By the function's contract `vm` points to a live `Ioreqs`.
    let ioreqs = unsafe { &*vm.cast::<Ioreqs>() };
    match ioreqs.ram().map(gpa, len as u64) {
        Ok(p) => p.as_ptr().cast(),
        // `ERR_PTR(errno)`: the negative errno as an address.
        Err(e) => e.to_errno() as isize as *mut c_void,
    }
}

/// Creates a kernel client of `vm` calling `handler(priv, vcpu, req)` for the requests in its
/// ranges (none yet). NULL on failure (no memory, VM destroyed).
///
/// # Safety
///
/// `vm` must be a live reference from `acrn_hsm_vm_get`; `handler` must be callable with
/// `priv` from any thread until `acrn_hsm_client_destroy` returns.
#[no_mangle]
pub(crate) unsafe extern "C" fn acrn_hsm_client_create(
    vm: *const c_void,
    handler: Option<CHandlerFn>,
    priv_: *mut c_void,
) -> *mut c_void {
    let Some(func) = handler else {
        return core::ptr::null_mut();
    };
    // SAFETY: By the function's contract `vm` is a live `Arc<Ioreqs>` reference; we take one
    // more for the handle.
    let borrowed = core::mem::ManuallyDrop::new(unsafe { Arc::from_raw(vm.cast::<Ioreqs>()) });
    let ioreqs: Arc<Ioreqs> = (*borrowed).clone();
    let make = || -> Result<KBox<ClientHandle>> {
        let handler: Arc<dyn IoreqHandler> = Arc::new(CHandler { func, priv_ }, GFP_KERNEL)?;
        let client = Client::new(Some(handler))?;
        ioreqs.add_client(client.clone())?;
        Ok(KBox::new(
            ClientHandle {
                ioreqs: ioreqs.clone(),
                client,
            },
            GFP_KERNEL,
        )?)
    };
    match make() {
        Ok(handle) => KBox::into_raw(handle).cast(),
        Err(_) => core::ptr::null_mut(),
    }
}

/// The client handle behind `client`.
///
/// # Safety
///
/// `client` must be a live handle from `acrn_hsm_client_create`.
unsafe fn handle<'a>(client: *mut c_void) -> &'a ClientHandle {
    // SAFETY: By the function's contract.
    unsafe { &*client.cast::<ClientHandle>() }
}

/// Stops `client`: once this returns its handler is not running and is never called again,
/// but the handle stays valid, so requests the handler deferred can still be completed with
/// `acrn_hsm_client_complete`. Idempotent. Must not be called from the handler.
///
/// # Safety
///
/// `client` must be a live handle from `acrn_hsm_client_create`.
#[no_mangle]
pub(crate) unsafe extern "C" fn acrn_hsm_client_stop(client: *mut c_void) {
    // SAFETY: By the function's contract.
    let handle = unsafe { handle(client) };
    handle.ioreqs.destroy_client(&handle.client);
}

/// Stops `client` (see `acrn_hsm_client_stop`) and frees the handle.
///
/// # Safety
///
/// `client` must be a live handle from `acrn_hsm_client_create`, not used afterwards.
#[no_mangle]
pub(crate) unsafe extern "C" fn acrn_hsm_client_destroy(client: *mut c_void) {
    // SAFETY: By the function's contract `client` came from `KBox::into_raw`.
    let handle = unsafe { KBox::from_raw(client.cast::<ClientHandle>()) };
    handle.ioreqs.destroy_client(&handle.client);
}

/// Claims `[start, end]` of `type` (`ACRN_IOREQ_TYPE_PORTIO` or `_MMIO`): 0, `-EINVAL` if
/// `end < start`, `-ENOMEM`.
///
/// # Safety
///
/// `client` must be a live handle from `acrn_hsm_client_create`.
#[no_mangle]
pub(crate) unsafe extern "C" fn acrn_hsm_client_add_range(
    client: *mut c_void,
    ty: u32,
    start: u64,
    end: u64,
) -> c_int {
    // SAFETY: By the function's contract.
    match unsafe { handle(client) }.client.add_range(ty, start, end) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Drops a range equal to `[start, end]` of `type`, if the client has one.
///
/// # Safety
///
/// `client` must be a live handle from `acrn_hsm_client_create`.
#[no_mangle]
pub(crate) unsafe extern "C" fn acrn_hsm_client_del_range(
    client: *mut c_void,
    ty: u32,
    start: u64,
    end: u64,
) {
    // SAFETY: By the function's contract.
    unsafe { handle(client) }.client.del_range(ty, start, end);
}

/// Completes the request of `vcpu` that the handler deferred (returned 1), copying
/// `req->reqs` (the value of a read) into the slot: 0, `-EINVAL` for a bad vCPU, `-ENOENT` if
/// the client does not hold that request. Process context.
///
/// # Safety
///
/// `client` must be a live handle from `acrn_hsm_client_create`; `req` a valid request.
#[no_mangle]
pub(crate) unsafe extern "C" fn acrn_hsm_client_complete(
    client: *mut c_void,
    vcpu: u16,
    req: *const IoRequest,
) -> c_int {
    // SAFETY: By the function's contract.
    let handle = unsafe { handle(client) };
    // SAFETY: By the function's contract `req` is valid for reads.
    let req = unsafe { &*req };
    match handle.ioreqs.complete(&handle.client, vcpu, req) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
