// SPDX-License-Identifier: GPL-2.0

//! What the logic in this crate asks of the architecture backend (SVM or VMX): nested page
//! tables per VM, and notifications of lifecycle changes so the backend can set up, run,
//! stop and free vCPUs. Core decides *whether* something happens; [`HvArch`] makes it
//! happen. Every hook is called with the VM table already updated.
//!
//! The backend keeps one [`NestedPageTable`](crate::npt::NestedPageTable) per VM id,
//! created in [`vm_created`](HvArch::vm_created) and destroyed in
//! [`vm_destroyed`](HvArch::vm_destroyed).

use crate::error::HvResult;
use crate::memory::Region;
use crate::vm::Vm;

/// CR0 bits a vCPU may start with: PE MP EM TS ET NE WP AM NW CD PG.
pub const CR0_VALID_BITS: u64 = 0x3f | (1 << 16) | (1 << 18) | (1 << 29) | (1 << 30) | (1 << 31);
/// CR4 bits a vCPU may start with: all architectural bits except VMXE (13), SMXE (14)
/// and CET (23), which ACRN reserves for guests (`CR4_EMULATED_RESERVE_BITS`).
pub const CR4_VALID_BITS: u64 = 0x1fff | (0x1f << 16) | (1 << 21) | (1 << 22) | (1 << 24);

/// Architecture backend hooks.
pub trait HvArch {
    /// A User VM went from free to Created: allocate its nested page table and vCPUs. An
    /// error undoes the creation (CREATE_VM then reports `vmid = ACRN_INVALID_VMID`).
    fn vm_created(&mut self, vm: &Vm) -> HvResult;

    /// Map `region` into VM `vmid`'s nested page table. On error nothing must stay mapped.
    fn map(&mut self, vmid: u16, region: &Region) -> HvResult;

    /// Unmap `[gpa, gpa + size)` from VM `vmid`'s nested page table.
    fn unmap(&mut self, vmid: u16, gpa: u64, size: u64) -> HvResult;

    /// The VM was destroyed: free its nested page table and vCPU state. The slot is
    /// already free again; `vm` is its last state (regions included).
    fn vm_destroyed(&mut self, vm: &Vm);

    /// START_VM: launch the BSP (ACRN `start_vm`).
    fn vm_started(&mut self, _vm: &Vm) {}

    /// PAUSE_VM: stop all vCPUs (ACRN `pause_vm`, vCPUs become zombies).
    fn vm_paused(&mut self, _vm: &Vm) {}

    /// RESET_VM: cold-reset all vCPUs (ACRN `reset_vm`).
    fn vm_reset(&mut self, _vm: &Vm) {}

    /// NOTIFY_REQUEST_FINISH for a VM that does not poll: signal vCPU `vcpu_id`'s IOREQ
    /// event (ACRN `signal_event(&vcpu->events[VCPU_EVENT_IOREQ])`) and wake it.
    fn ioreq_finished(&mut self, _vm: &Vm, _vcpu_id: u16) {}

    /// INJECT_MSI: make `vector` pending in vCPU `vcpu_id`'s virtual LAPIC and wake it.
    fn deliver_interrupt(&mut self, _vm: &Vm, _vcpu_id: u16, _vector: u8) {}

    /// SERVICE_VM_OFFLINE_CPU: take Service VM vCPU `vcpu_id` (on `pcpu`) offline.
    fn offline_service_vcpu(&mut self, _vcpu_id: u16, _pcpu: u16) {}

    /// Whether a vCPU may start with these CR0/CR4 values (ACRN `is_valid_cr0_cr4`, which
    /// derives the reserved bits from the VMX fixed-bit MSRs). The default accepts the
    /// architectural bits only; VMX additionally needs CR0.NE set.
    fn cr0_cr4_valid(&self, cr0: u64, cr4: u64) -> bool {
        cr0 & !CR0_VALID_BITS == 0 && cr4 & !CR4_VALID_BITS == 0
    }
}

/// The virtualization extension a backend drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// AMD SVM (`arch/svm`): the one that runs, under QEMU/TCG in CI.
    Svm,
    /// Intel VMX (`arch/vmx`): a compile- and host-tested skeleton.
    Vmx,
}

impl Backend {
    /// The backend for a CPU whose CPUID.1:ECX is `leaf1_ecx` and CPUID.8000_0001:ECX is
    /// `ext1_ecx` (0 if that leaf does not exist): SVM (bit 2) first, then VMX (bit 5).
    pub const fn select(leaf1_ecx: u32, ext1_ecx: u32) -> Option<Self> {
        if ext1_ecx & (1 << 2) != 0 {
            Some(Self::Svm)
        } else if leaf1_ecx & (1 << 5) != 0 {
            Some(Self::Vmx)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod backend_tests {
    use super::Backend;

    #[test]
    fn vendor_choice() {
        assert_eq!(Backend::select(0, 1 << 2), Some(Backend::Svm));
        assert_eq!(Backend::select(1 << 5, 0), Some(Backend::Vmx));
        assert_eq!(Backend::select(1 << 5, 1 << 2), Some(Backend::Svm));
        assert_eq!(Backend::select(!(1 << 5), !(1 << 2)), None);
    }
}
