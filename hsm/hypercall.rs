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
use core::{arch::asm, ffi::c_void, mem::size_of};
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

/// DM structs that hypercalls take by physical address, after a VM id.
///
/// # Safety
///
/// Every id in [`Self::IDS`] must name a hypercall whose parameter 1 is a VM id and whose
/// parameter 2 is the physical address of a `Self`, which the hypervisor accesses only during
/// the call.
pub(crate) unsafe trait VmStructArg {
    /// The hypercalls that take this struct.
    const IDS: &'static [u64];
}

// SAFETY: ACRN's hypercalls below take (VM id, physical address of the struct),
// as Linux's `drivers/virt/acrn/hypercall.h` passes them; the hypervisor reads the struct
// during the call (`INJECT_MSI` and the device calls copy it in).
unsafe impl VmStructArg for crate::acrn::MsiEntry {
    const IDS: &'static [u64] = &[hv::HC_INJECT_MSI];
}
// SAFETY: See above.
unsafe impl VmStructArg for crate::acrn::Mmiodev {
    const IDS: &'static [u64] = &[hv::HC_ASSIGN_MMIODEV, hv::HC_DEASSIGN_MMIODEV];
}
// SAFETY: See above.
unsafe impl VmStructArg for crate::acrn::Pcidev {
    const IDS: &'static [u64] = &[hv::HC_ASSIGN_PCIDEV, hv::HC_DEASSIGN_PCIDEV];
}
// SAFETY: See above.
unsafe impl VmStructArg for crate::acrn::Vdev {
    const IDS: &'static [u64] = &[hv::HC_ADD_VDEV, hv::HC_REMOVE_VDEV];
}
// SAFETY: See above.
unsafe impl VmStructArg for crate::acrn::PtdevIrq {
    const IDS: &'static [u64] = &[hv::HC_SET_PTDEV_INTR_INFO, hv::HC_RESET_PTDEV_INTR_INFO];
}

/// Hypercall `id` on `vmid` with the physical address of `arg` as parameter 2. `EINVAL` if
/// `id` does not take a `T` (a driver bug, never reached from userspace).
pub(crate) fn vm_struct_call<T: VmStructArg>(id: u64, vmid: u16, arg: &mut KBox<T>) -> Result {
    if !T::IDS.contains(&id) {
        return Err(EINVAL);
    }
    // SAFETY: By the `VmStructArg` contract hypercall `id` takes the VM id and the address of
    // a `T`; `arg` is an exclusively borrowed `T` in kmalloc memory that outlives the call.
    unsafe { hypercall2(id, u64::from(vmid), kmalloc_phys(&**arg as *const T)) }.map(|_| ())
}

/// `HC_SET_IRQLINE`: `op` is the DM's `u64` by value (IRQ number, operation).
pub(crate) fn set_irqline(vmid: u16, op: u64) -> Result {
    // SAFETY: HC_SET_IRQLINE takes the VM id and a plain value; no memory is named.
    unsafe { hypercall2(hv::HC_SET_IRQLINE, u64::from(vmid), op) }.map(|_| ())
}

/// `HC_VM_INTR_MONITOR`: the hypervisor writes interrupt statistics into the page at
/// physical address `page_pa`.
///
/// # Safety
///
/// `page_pa` must be a page the caller keeps pinned until it names another one or the VM is
/// destroyed: the hypervisor may write it at any time until then.
pub(crate) unsafe fn vm_intr_monitor(vmid: u16, page_pa: u64) -> Result {
    // SAFETY: The caller keeps the page pinned for as long as the hypervisor may write it.
    unsafe { hypercall2(hv::HC_VM_INTR_MONITOR, u64::from(vmid), page_pa) }.map(|_| ())
}

/// Size of the hypervisor's answer to a `PM_GET_CPU_STATE` command (by `cmd &
/// PMCMD_TYPE_MASK`): a count (`u64`) or a P-/C-state table entry; `None` for other types.
fn cpu_state_size(cmd: u64) -> Option<usize> {
    use crate::acrn::{self, CstateData, PstateData};
    match cmd & acrn::PMCMD_TYPE_MASK {
        acrn::ACRN_PMCMD_GET_PX_CNT | acrn::ACRN_PMCMD_GET_CX_CNT => Some(size_of::<u64>()),
        acrn::ACRN_PMCMD_GET_PX_DATA => Some(size_of::<PstateData>()),
        acrn::ACRN_PMCMD_GET_CX_DATA => Some(size_of::<CstateData>()),
        _ => None,
    }
}

/// `HC_PM_GET_CPU_STATE`: the hypervisor's answer to `cmd` (which also names the VM), in a
/// zeroed buffer of the size its type calls for; `None` (no hypercall) for a command type
/// without an answer.
pub(crate) fn get_cpu_state(cmd: u64) -> Result<Option<KVec<u8>>> {
    let Some(size) = cpu_state_size(cmd) else {
        return Ok(None);
    };
    let mut buf = KVec::from_elem(0u8, size, GFP_KERNEL)?;
    // SAFETY: `buf` is kmalloc memory of the size the hypervisor writes for this command
    // type, exclusively owned here until the call returns.
    unsafe { hypercall2(hv::HC_PM_GET_CPU_STATE, cmd, kmalloc_phys(buf.as_mut_ptr())) }?;
    Ok(Some(buf))
}

/// `HC_SERVICE_VM_OFFLINE_CPU` (Linux: `HC_SOS_REMOVE_CPU`): the hypervisor takes back the
/// pCPU of the Service VM vCPU with local APIC id `lapicid`.
pub(crate) fn offline_cpu(lapicid: u64) -> Result {
    // SAFETY: The hypercall takes a plain value; no memory is named.
    unsafe { hypercall2(hv::HC_SERVICE_VM_OFFLINE_CPU, lapicid, 0) }.map(|_| ())
}

/// `HC_NOTIFY_REQUEST_FINISH`: the I/O request of `vcpu` in VM `vmid` is complete.
/// Callable in atomic context.
pub(crate) fn notify_request_finish(vmid: u16, vcpu: u16) -> Result {
    // SAFETY: The hypercall takes two plain integers.
    unsafe {
        hypercall2(
            hv::HC_NOTIFY_REQUEST_FINISH,
            u64::from(vmid),
            u64::from(vcpu),
        )
    }
    .map(|_| ())
}

/// `HC_INJECT_MSI` of `msi` (in kmalloc memory) into VM `vmid`. Callable in atomic context.
pub(crate) fn inject_msi(vmid: u16, msi: &crate::acrn::MsiEntry) -> Result {
    // SAFETY: `msi` is a live `acrn_msi_entry` in kmalloc memory, read by the hypervisor.
    unsafe {
        hypercall2(
            hv::HC_INJECT_MSI,
            u64::from(vmid),
            kmalloc_phys(msi as *const _),
        )
    }
    .map(|_| ())
}
