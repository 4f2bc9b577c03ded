// SPDX-License-Identifier: GPL-2.0

//! One VM slot of the [`VmTable`](crate::vm_table::VmTable): state, name, flags, vCPUs,
//! I/O request buffer, mapped regions and vIOAPIC (ACRN `struct acrn_vm` + its `acrn_vm_config`).
//!
//! Ownership: the table owns every `Vm`; a slot is reused after DESTROY. Nothing here is
//! allocated: the vCPU array and the region set have fixed capacity.

use crate::memory::RegionSet;
use crate::vioapic::Vioapic;
use acrn_uapi::{acrn, hv};

/// VM slots, Service VM included (ACRN `CONFIG_MAX_VM_NUM`, 8 in its shared scenario).
pub const MAX_VMS: usize = 8;
/// The Service VM's id (`SERVICE_VM == VM0`).
pub const SERVICE_VM_ID: u16 = 0;
/// vCPUs per VM: one I/O request slot each (`ACRN_IO_REQUEST_MAX`).
pub const MAX_VCPUS_PER_VM: usize = acrn::ACRN_IO_REQUEST_MAX;
/// Mapped regions per User VM (after merging contiguous ones).
pub const MAX_REGIONS_PER_VM: usize = 512;
/// Physical CPUs the affinity bitmaps can name.
pub const MAX_PCPUS: usize = 64;
/// vCPU 0 is the bootstrap processor (ACRN `BSP_CPU_ID`).
pub const BSP_VCPU_ID: usize = 0;

/// `vm_flag` bits the device model may set (ACRN `DM_OWNED_GUEST_FLAG_MASK`, release build).
pub const DM_OWNED_GUEST_FLAG_MASK: u64 = hv::GUEST_FLAG_SECURE_WORLD_ENABLED
    | hv::GUEST_FLAG_LAPIC_PASSTHROUGH
    | hv::GUEST_FLAG_RT
    | hv::GUEST_FLAG_IO_COMPLETION_POLLING;

/// Guest flags that let a VM other than the Service VM execute `vmcall` at all (ACRN
/// `is_guest_hypercall`).
pub const GUEST_FLAGS_ALLOWING_HYPERCALLS: u64 =
    hv::GUEST_FLAG_SECURE_WORLD_ENABLED | hv::GUEST_FLAG_TEE | hv::GUEST_FLAG_REE;

/// Lifecycle state (ACRN `enum vm_state`, without `VM_READY_TO_POWEROFF`, which only RT
/// VMs reach by powering themselves off; that needs part 2's exit handling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmState {
    /// Free slot (`VM_POWERED_OFF`).
    PoweredOff,
    /// Created, not yet started, or reset (`VM_CREATED`).
    Created,
    /// vCPUs runnable (`VM_RUNNING`).
    Running,
    /// vCPUs stopped (`VM_PAUSED`).
    Paused,
}

/// vCPU state (ACRN `enum vcpu_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcpuState {
    /// Does not exist (`VCPU_OFFLINE`).
    Offline,
    /// Created, waiting for start (`VCPU_INIT`).
    Init,
    /// Running (`VCPU_RUNNING`).
    Running,
    /// Stopped by PAUSE (`VCPU_ZOMBIE`).
    Zombie,
}

/// One vCPU slot.
#[derive(Clone, Copy, Debug)]
pub struct Vcpu {
    /// State.
    pub state: VcpuState,
    /// Physical CPU it runs on.
    pub pcpu: u16,
    /// Local APIC id the guest sees.
    pub lapic_id: u32,
    /// Initial registers from SET_VCPU_REGS, applied by the arch layer at start.
    pub regs: Option<acrn::Regs>,
}

impl Vcpu {
    const OFFLINE: Self = Self {
        state: VcpuState::Offline,
        pcpu: 0,
        lapic_id: 0,
        regs: None,
    };
}

/// A VM slot.
#[derive(Clone, Debug)]
pub struct Vm {
    /// Absolute VM id (slot index).
    pub id: u16,
    /// Lifecycle state.
    pub state: VmState,
    /// Name (the 16-byte former `uuid` field of `acrn_vm_creation`), NUL-padded; all zero
    /// for a free slot.
    pub name: [u8; hv::MAX_VM_NAME_LEN],
    /// `GUEST_FLAG_*`.
    pub guest_flags: u64,
    /// pCPUs of the vCPUs (bit n = pCPU n).
    pub cpu_affinity: u64,
    /// vCPU slots; `0..created_vcpus` exist.
    pub vcpus: [Vcpu; MAX_VCPUS_PER_VM],
    /// Number of vCPUs created (ACRN `hw.created_vcpus`).
    pub created_vcpus: u16,
    /// Service VM physical address of the 4 KiB I/O request page (ACRN
    /// `sw.io_shared_page`), set by SET_IOREQ_BUFFER.
    pub ioreq_buf: Option<u64>,
    /// Mapped memory (User VMs; the Service VM's map is [`ServiceVmMemory`](crate::memory::ServiceVmMemory)).
    pub regions: RegionSet<MAX_REGIONS_PER_VM>,
    /// The virtual IOAPIC (User VMs).
    pub vioapic: Vioapic,
}

impl Vm {
    pub(crate) const fn free(id: u16) -> Self {
        Self {
            id,
            state: VmState::PoweredOff,
            name: [0; hv::MAX_VM_NAME_LEN],
            guest_flags: 0,
            cpu_affinity: 0,
            vcpus: [Vcpu::OFFLINE; MAX_VCPUS_PER_VM],
            created_vcpus: 0,
            ioreq_buf: None,
            regions: RegionSet::new(),
            vioapic: Vioapic::RESET,
        }
    }

    /// Whether this is the Service VM.
    pub fn is_service_vm(&self) -> bool {
        self.id == SERVICE_VM_ID
    }

    /// The existing vCPUs.
    pub fn vcpus(&self) -> &[Vcpu] {
        &self.vcpus[..usize::from(self.created_vcpus)]
    }

    /// Whether completion of I/O requests is polled (ACRN `sw.is_polling_ioreq`).
    pub fn is_polling_ioreq(&self) -> bool {
        self.guest_flags & hv::GUEST_FLAG_IO_COMPLETION_POLLING != 0
    }

    /// Whether the name matches, C `strncmp(a, b, MAX_VM_NAME_LEN) == 0` style (ACRN
    /// `vm_has_matched_name`); an empty name never matches (ACRN `get_vmid_by_name`).
    pub fn has_name(&self, name: &[u8; hv::MAX_VM_NAME_LEN]) -> bool {
        name[0] != 0 && name_eq(&self.name, name)
    }

    /// The name up to its first NUL.
    pub fn name_str(&self) -> &[u8] {
        let n = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.name.len());
        &self.name[..n]
    }
}

/// `strncmp(a, b, 16) == 0`.
pub fn name_eq(a: &[u8; hv::MAX_VM_NAME_LEN], b: &[u8; hv::MAX_VM_NAME_LEN]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return false;
        }
        if *x == 0 {
            return true;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_like_strncmp() {
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        a[..3].copy_from_slice(b"vm1");
        b[..3].copy_from_slice(b"vm1");
        b[5] = b'x'; // after the NUL: ignored
        assert!(name_eq(&a, &b));
        let mut vm = Vm::free(1);
        vm.name = a;
        assert!(vm.has_name(&b));
        assert_eq!(vm.name_str(), b"vm1");
        assert!(!vm.has_name(&[0; 16]));
        let full = *b"0123456789abcdef";
        vm.name = full;
        assert!(vm.has_name(&full) && vm.name_str().len() == 16);
    }
}
