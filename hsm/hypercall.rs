// SPDX-License-Identifier: GPL-2.0

//! ACRN hypercalls (Linux `drivers/virt/acrn/hypercall.h`, `arch/x86/include/asm/acrn.h`).
//!
//! `vmcall` with the id in R8, parameter 1 in RDI, parameter 2 in RSI; RAX holds the
//! sign-extended `int32_t` result (negative errno on failure). The ids come from
//! `uapi/rust/src/hv.rs`, which `tests/abi.rs` checks against Linux's `hypercall.h`.
//!
//! Arguments that point to a struct pass its Service VM physical address: the struct must be
//! in physically contiguous kernel memory ([`KBox`]/[`KVec`], i.e. kmalloc) and stay alive until
//! the call returns. The wrappers take the struct by reference so the borrow guarantees both.

use crate::hv;
use core::{arch::asm, ffi::c_void};
use kernel::prelude::*;

extern "C" {
    fn acrn_hsm_virt_to_phys(addr: *const c_void) -> u64;
}

/// The Service VM physical address of kmalloc memory at `ptr`.
///
/// `ptr` must point into the kernel's direct map (kmalloc, not vmalloc), which [`KBox`] and
/// [`KVec`] allocations do.
pub(crate) fn kmalloc_phys<T>(ptr: *const T) -> u64 {
    // SAFETY: `virt_to_phys` is arithmetic on the address; callers pass kmalloc memory.
    unsafe { acrn_hsm_virt_to_phys(ptr.cast()) }
}

/// Issues hypercall `id` with two parameters and decodes RAX.
///
/// # Safety
///
/// The parameters must be what the hypercall `id` expects; any physical address passed must
/// point to live kernel memory of the right type that the hypervisor may read or write for
/// the duration of the call.
unsafe fn hypercall2(id: u64, param1: u64, param2: u64) -> Result<u64> {
    let rax: u64;
    // SAFETY: `vmcall` traps to the hypervisor, which reads R8/RDI/RSI and writes RAX only;
    // the caller guarantees the parameters are valid. Memory is not marked `nomem` because the
    // hypervisor may write the argument structs.
    unsafe {
        asm!(
            "vmcall",
            in("r8") id as u32 as u64,
            in("rdi") param1,
            in("rsi") param2,
            lateout("rax") rax,
            options(nostack),
        );
    }
    hv::hc_result(rax).map_err(to_error)
}

/// The kernel [`Error`] for a negative errno returned by the hypervisor.
fn to_error(ret: i32) -> Error {
    if (-4095..0).contains(&ret) {
        Error::from_errno(ret)
    } else {
        EINVAL
    }
}

/// `HC_CREATE_VM`: the hypervisor reads `param` and writes `vmid` and `vcpu_num` into it.
pub(crate) fn create_vm(param: &mut crate::acrn::VmCreation) -> Result {
    // SAFETY: `param` is a live, exclusively borrowed `acrn_vm_creation` in kmalloc memory
    // (callers pass a `KBox`), as `HC_CREATE_VM` expects.
    unsafe { hypercall2(hv::HC_CREATE_VM, kmalloc_phys(param as *const _), 0) }.map(|_| ())
}

/// A hypercall on `vmid` with no argument struct.
fn vm_op(id: u64, vmid: u16) -> Result {
    // SAFETY: `id` is one of DESTROY/START/PAUSE/RESET_VM, which take only the VM id.
    unsafe { hypercall2(id, u64::from(vmid), 0) }.map(|_| ())
}

/// `HC_DESTROY_VM`.
pub(crate) fn destroy_vm(vmid: u16) -> Result {
    vm_op(hv::HC_DESTROY_VM, vmid)
}

/// `HC_START_VM`.
pub(crate) fn start_vm(vmid: u16) -> Result {
    vm_op(hv::HC_START_VM, vmid)
}

/// `HC_PAUSE_VM`.
pub(crate) fn pause_vm(vmid: u16) -> Result {
    vm_op(hv::HC_PAUSE_VM, vmid)
}

/// `HC_RESET_VM`.
pub(crate) fn reset_vm(vmid: u16) -> Result {
    vm_op(hv::HC_RESET_VM, vmid)
}

/// `HC_SET_VCPU_REGS` with `regs` (in kmalloc memory).
pub(crate) fn set_vcpu_regs(vmid: u16, regs: &crate::acrn::VcpuRegs) -> Result {
    // SAFETY: `regs` is a live `acrn_vcpu_regs` in kmalloc memory, read by the hypervisor.
    unsafe {
        hypercall2(
            hv::HC_SET_VCPU_REGS,
            u64::from(vmid),
            kmalloc_phys(regs as *const _),
        )
    }
    .map(|_| ())
}

/// `HC_SET_IOREQ_BUFFER`: `buf` holds the physical address of the pinned I/O request page.
pub(crate) fn set_ioreq_buffer(vmid: u16, buf: &u64) -> Result {
    // SAFETY: `buf` is a live `struct acrn_ioreq_buffer` (one `u64`) in kmalloc memory; the
    // page it names is pinned by the caller for as long as the VM exists.
    unsafe {
        hypercall2(
            hv::HC_SET_IOREQ_BUFFER,
            u64::from(vmid),
            kmalloc_phys(buf as *const _),
        )
    }
    .map(|_| ())
}

/// `HC_VM_SET_MEMORY_REGIONS`: `batch.regions_gpa` must be the physical address of
/// `batch.mr_num` [`hv::VmMemoryRegion`]s in kmalloc memory that outlive the call.
///
/// # Safety
///
/// The caller guarantees the region array described above, and that every RAM page the
/// regions name stays pinned for as long as the hypervisor may map it.
pub(crate) unsafe fn set_memory_regions(batch: &hv::SetRegions) -> Result {
    // SAFETY: `batch` is a live `set_regions` in kmalloc memory; the caller guarantees the
    // array it points to and the pages.
    unsafe {
        hypercall2(
            hv::HC_VM_SET_MEMORY_REGIONS,
            kmalloc_phys(batch as *const _),
            0,
        )
    }
    .map(|_| ())
}
