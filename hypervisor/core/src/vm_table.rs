// SPDX-License-Identifier: GPL-2.0

//! The VM table: all VM slots, the Service VM's memory map, and the lifecycle rules of
//! ACRN's `hcall_*_vm` handlers (`common/hypercall.c`) and `arch/x86/guest/vm.c`.
//!
//! ```text
//!  PoweredOff ──create──▶ Created ──start*──▶ Running
//!       ▲                  │   ▲                 │
//!       │                pause reset           pause
//!       │                  ▼   │                 │
//!       └─────destroy───── Paused ◀──────────────┘
//!  * only once SET_IOREQ_BUFFER has succeeded
//! ```
//! * create: only a PoweredOff slot (ACRN `hcall_create_vm`: `is_poweroff_vm`);
//! * start: only Created, and only once the I/O request buffer is set (`hcall_start_vm`);
//! * pause: any state but PoweredOff; Running/Created become Paused, Paused stays
//!   (`hcall_pause_vm` + `pause_vm`);
//! * reset: only Paused, back to Created (`hcall_reset_vm` + `reset_vm`);
//! * destroy: only Paused, back to PoweredOff (`hcall_destroy_vm` + `shutdown_vm`).
//!
//! Every refusal is ACRN's bare `-1` (`hv_err!(EPERM)`). Deviation: the Service VM is never
//! a target of these operations (ACRN would let it pause itself).
//!
//! The table is plain state: the arch layer holds one lock around each hypercall.

use crate::arch::HvArch;
use crate::error::{HvResult, EINVAL, EPERM};
use crate::hv_err;
use crate::memory::{is_aligned, RegionOp, ServiceVmMemory, PAGE_SIZE};
use crate::vm::*;
use acrn_uapi::{acrn, hv};

/// Static configuration of the physical CPUs.
#[derive(Clone, Debug)]
pub struct VmTableConfig {
    /// Number of physical CPUs (ids `0..num_pcpus`).
    pub num_pcpus: u16,
    /// pCPUs running the Service VM's vCPUs (lowest = its BSP).
    pub service_vm_pcpus: u64,
    /// pCPUs reserved for User VMs, invisible to the Service VM; a User VM's
    /// `cpu_affinity` must be a subset (0 = all of them).
    pub user_vm_pcpus: u64,
    /// Local APIC id of each pCPU (the Service VM's vCPUs see their pCPU's id).
    pub lapic_ids: [u32; MAX_PCPUS],
}

impl VmTableConfig {
    /// A configuration where pCPU n has LAPIC id n.
    pub fn new(num_pcpus: u16, service_vm_pcpus: u64, user_vm_pcpus: u64) -> Self {
        let mut lapic_ids = [0; MAX_PCPUS];
        for (i, id) in lapic_ids.iter_mut().enumerate() {
            *id = i as u32;
        }
        Self {
            num_pcpus,
            service_vm_pcpus,
            user_vm_pcpus,
            lapic_ids,
        }
    }

    fn all_pcpus(&self) -> u64 {
        if usize::from(self.num_pcpus) >= MAX_PCPUS {
            u64::MAX
        } else {
            (1u64 << self.num_pcpus) - 1
        }
    }
}

/// Objects currently alive, for leak checks (100 create/destroy cycles end at zero).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveObjects {
    /// User VMs not powered off.
    pub vms: usize,
    /// vCPUs of those VMs.
    pub vcpus: usize,
    /// Mapped regions of those VMs.
    pub regions: usize,
    /// I/O request buffers set.
    pub ioreq_bufs: usize,
}

/// Cumulative counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Successful CREATE_VM.
    pub vm_creates: u64,
    /// Successful DESTROY_VM.
    pub vm_destroys: u64,
}

/// All VMs.
#[derive(Clone, Debug)]
pub struct VmTable {
    vms: [Vm; MAX_VMS],
    cfg: VmTableConfig,
    svc_mem: ServiceVmMemory,
    upcall_vector: u8,
    offlined_service_pcpus: u64,
    counters: Counters,
}

/// ACRN's name for the Service VM in its generated scenarios.
pub const SERVICE_VM_NAME: &[u8; hv::MAX_VM_NAME_LEN] = b"ACRN_Service_VM\0";

/// ACRN `rel_vmid_2_vmid`: relative id (as the Service VM sees it) to absolute id.
pub const fn rel_vmid_2_vmid(rel_vmid: u16) -> u16 {
    SERVICE_VM_ID.wrapping_add(rel_vmid)
}

/// ACRN `vmid_2_rel_vmid`.
pub const fn vmid_2_rel_vmid(vmid: u16) -> u16 {
    vmid.wrapping_sub(SERVICE_VM_ID)
}

impl VmTable {
    /// The table with the Service VM (id 0) running on `cfg.service_vm_pcpus` and every
    /// other slot free. The pCPU sets must be non-empty for the Service VM, disjoint,
    /// inside `0..num_pcpus`, and the Service VM may have at most
    /// [`MAX_VCPUS_PER_VM`] vCPUs (-EINVAL).
    pub fn new(cfg: VmTableConfig, svc_mem: ServiceVmMemory) -> HvResult<Self> {
        let mut t = Self::empty();
        t.init(cfg, svc_mem)?;
        Ok(t)
    }

    /// A table without any VM, not even the Service VM: the initial value of a `static`
    /// (the table is too big for a boot stack), to be [`init`](Self::init)ialised in place.
    pub const fn empty() -> Self {
        Self {
            vms: [const { Vm::free(0) }; MAX_VMS],
            cfg: VmTableConfig {
                num_pcpus: 0,
                service_vm_pcpus: 0,
                user_vm_pcpus: 0,
                lapic_ids: [0; MAX_PCPUS],
            },
            svc_mem: ServiceVmMemory::empty(),
            upcall_vector: hv::HYPERVISOR_CALLBACK_VECTOR,
            offlined_service_pcpus: 0,
            counters: Counters {
                vm_creates: 0,
                vm_destroys: 0,
            },
        }
    }

    /// [`new`](Self::new) in place: every slot is reset, then the Service VM is set up.
    pub fn init(&mut self, cfg: VmTableConfig, svc_mem: ServiceVmMemory) -> HvResult {
        let all = cfg.all_pcpus();
        let bad = cfg.service_vm_pcpus == 0
            || cfg.service_vm_pcpus & cfg.user_vm_pcpus != 0
            || (cfg.service_vm_pcpus | cfg.user_vm_pcpus) & !all != 0
            || cfg.service_vm_pcpus.count_ones() as usize > MAX_VCPUS_PER_VM;
        if bad {
            return Err(hv_err!(EINVAL));
        }
        for (i, vm) in self.vms.iter_mut().enumerate() {
            *vm = Vm::free(i as u16);
        }
        let svc = &mut self.vms[usize::from(SERVICE_VM_ID)];
        svc.state = VmState::Running;
        svc.name = *SERVICE_VM_NAME;
        svc.cpu_affinity = cfg.service_vm_pcpus;
        for (i, pcpu) in bits(cfg.service_vm_pcpus).enumerate() {
            svc.vcpus[i] = Vcpu {
                state: VcpuState::Running,
                pcpu,
                lapic_id: cfg.lapic_ids[usize::from(pcpu)],
                regs: None,
            };
            svc.created_vcpus += 1;
        }
        self.cfg = cfg;
        self.svc_mem = svc_mem;
        self.upcall_vector = hv::HYPERVISOR_CALLBACK_VECTOR;
        self.offlined_service_pcpus = 0;
        self.counters = Counters::default();
        Ok(())
    }

    /// VM `vmid` (absolute), if the id is in range.
    pub fn vm(&self, vmid: u16) -> Option<&Vm> {
        self.vms.get(usize::from(vmid))
    }

    fn vm_mut(&mut self, vmid: u16) -> HvResult<&mut Vm> {
        self.vms.get_mut(usize::from(vmid)).ok_or(hv_err!(EINVAL))
    }

    /// All slots.
    pub fn vms(&self) -> &[Vm] {
        &self.vms
    }

    /// The Service VM.
    pub fn service_vm(&self) -> &Vm {
        &self.vms[usize::from(SERVICE_VM_ID)]
    }

    /// The Service VM's physical map.
    pub fn service_vm_memory(&self) -> &ServiceVmMemory {
        &self.svc_mem
    }

    /// The pCPU configuration.
    pub fn config(&self) -> &VmTableConfig {
        &self.cfg
    }

    /// Vector of the upcall to the Service VM (default 0xF3).
    pub fn upcall_vector(&self) -> u8 {
        self.upcall_vector
    }

    /// ACRN `hcall_set_callback_vector`: 0x20 (`VECTOR_DYNAMIC_START`) ..= 0xFF
    /// (`NR_MAX_VECTOR`), else -EINVAL.
    pub fn set_upcall_vector(&mut self, vector: u64) -> HvResult {
        match u8::try_from(vector) {
            Ok(v) if v >= 0x20 => {
                self.upcall_vector = v;
                Ok(())
            }
            _ => Err(hv_err!(EINVAL)),
        }
    }

    /// pCPUs a User VM may use: those reserved for User VMs plus Service VM pCPUs whose
    /// vCPU was taken offline (ACRN: "vcpus used by Service VM has been offlined by DM
    /// before User VM re-use it").
    pub fn user_vm_pcpus(&self) -> u64 {
        self.cfg.user_vm_pcpus | self.offlined_service_pcpus
    }

    /// Live objects (leak check).
    pub fn live(&self) -> LiveObjects {
        let mut l = LiveObjects::default();
        for vm in self
            .vms
            .iter()
            .filter(|v| !v.is_service_vm() && v.state != VmState::PoweredOff)
        {
            l.vms += 1;
            l.vcpus += usize::from(vm.created_vcpus);
            l.regions += vm.regions.len();
            l.ioreq_bufs += usize::from(vm.ioreq_buf.is_some());
        }
        l
    }

    /// Cumulative counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// ACRN `get_vmid_by_name`: the slot whose name matches (empty names never match).
    pub fn get_vmid_by_name(&self, name: &[u8; hv::MAX_VM_NAME_LEN]) -> Option<u16> {
        self.vms.iter().find(|vm| vm.has_name(name)).map(|vm| vm.id)
    }

    /// ACRN `allocate_dynamical_vmid`: the first slot with an empty name gets `name` (which
    /// may itself be empty) and is returned.
    pub fn allocate_vmid(&mut self, name: &[u8; hv::MAX_VM_NAME_LEN]) -> Option<u16> {
        let vm = self.vms.iter_mut().find(|vm| vm.name[0] == 0)?;
        vm.name = *name;
        Some(vm.id)
    }

    /// Forgets the name of a free slot (ACRN clears the name of a dynamic slot when
    /// CREATE_VM fails). Live VMs keep their name: ACRN would clear it too when a second
    /// CREATE_VM with the same name fails, letting a third one create a duplicate.
    pub fn release_name(&mut self, vmid: u16) {
        if let Ok(vm) = self.vm_mut(vmid) {
            if vm.state == VmState::PoweredOff {
                vm.name = [0; hv::MAX_VM_NAME_LEN];
            }
        }
    }

    fn user_vm_mut(&mut self, vmid: u16) -> HvResult<&mut Vm> {
        if vmid == SERVICE_VM_ID {
            return Err(hv_err!(EPERM));
        }
        self.vm_mut(vmid)
    }

    /// ACRN `create_vm` for a post-launched VM in free slot `vmid`: one vCPU per bit of
    /// `pcpu_bitmap`, in ascending pCPU order (vCPU 0 = BSP, LAPIC id = vCPU id). Fails
    /// with -EPERM if the slot is in use, -EINVAL for an empty bitmap, too many vCPUs or
    /// a nonexistent pCPU, or with the arch error. Returns the vCPU count.
    pub fn create_vm(
        &mut self,
        vmid: u16,
        guest_flags: u64,
        pcpu_bitmap: u64,
        arch: &mut impl HvArch,
    ) -> HvResult<u16> {
        let all = self.cfg.all_pcpus();
        let vm = self.user_vm_mut(vmid)?;
        if vm.state != VmState::PoweredOff {
            return Err(hv_err!(EPERM));
        }
        let n = pcpu_bitmap.count_ones() as usize;
        if n == 0 || n > MAX_VCPUS_PER_VM || pcpu_bitmap & !all != 0 {
            return Err(hv_err!(EINVAL));
        }
        let name = vm.name;
        *vm = Vm::free(vmid);
        vm.name = name;
        if vm.name[0] == 0 {
            // ACRN create_vm: snprintf(name, 16, "ACRN VM_%d", vm_id).
            let mut s = *b"ACRN VM_\0\0\0\0\0\0\0\0";
            write_decimal(&mut s[8..], vmid);
            vm.name = s;
        }
        vm.guest_flags = guest_flags;
        vm.cpu_affinity = pcpu_bitmap;
        for (i, pcpu) in bits(pcpu_bitmap).enumerate() {
            vm.vcpus[i] = Vcpu {
                state: VcpuState::Init,
                pcpu,
                lapic_id: i as u32,
                regs: None,
            };
        }
        vm.created_vcpus = n as u16;
        vm.state = VmState::Created;
        if let Err(e) = arch.vm_created(vm) {
            let name = vm.name;
            *vm = Vm::free(vmid);
            vm.name = name;
            return Err(e);
        }
        self.counters.vm_creates += 1;
        Ok(n as u16)
    }

    /// ACRN `hcall_destroy_vm`: only a Paused VM (-EPERM otherwise) is shut down; the slot
    /// becomes free and `arch` frees its resources.
    pub fn destroy_vm(&mut self, vmid: u16, arch: &mut impl HvArch) -> HvResult {
        let vm = self.user_vm_mut(vmid)?;
        if vm.state != VmState::Paused {
            return Err(hv_err!(EPERM));
        }
        let old = core::mem::replace(vm, Vm::free(vmid));
        arch.vm_destroyed(&old);
        self.counters.vm_destroys += 1;
        Ok(())
    }

    /// ACRN `hcall_start_vm`: only Created with the I/O request buffer set (-EPERM).
    pub fn start_vm(&mut self, vmid: u16, arch: &mut impl HvArch) -> HvResult {
        let vm = self.user_vm_mut(vmid)?;
        if vm.state != VmState::Created || vm.ioreq_buf.is_none() {
            return Err(hv_err!(EPERM));
        }
        vm.state = VmState::Running;
        // Only the BSP is launched; it starts the APs (ACRN start_vm).
        vm.vcpus[BSP_VCPU_ID].state = VcpuState::Running;
        arch.vm_started(vm);
        Ok(())
    }

    /// ACRN `hcall_pause_vm`: -EPERM for a free slot; a Paused VM stays paused (success).
    pub fn pause_vm(&mut self, vmid: u16, arch: &mut impl HvArch) -> HvResult {
        let vm = self.user_vm_mut(vmid)?;
        match vm.state {
            VmState::PoweredOff => Err(hv_err!(EPERM)),
            VmState::Paused => Ok(()),
            VmState::Created | VmState::Running => {
                for v in vm.vcpus[..usize::from(vm.created_vcpus)].iter_mut() {
                    v.state = VcpuState::Zombie;
                }
                vm.state = VmState::Paused;
                arch.vm_paused(vm);
                Ok(())
            }
        }
    }

    /// ACRN `hcall_reset_vm`: only Paused (-EPERM); vCPUs back to INIT without registers,
    /// state Created. The I/O request buffer stays; the caller frees its slots.
    pub fn reset_vm(&mut self, vmid: u16, arch: &mut impl HvArch) -> HvResult {
        let vm = self.user_vm_mut(vmid)?;
        if vm.state != VmState::Paused {
            return Err(hv_err!(EPERM));
        }
        for v in vm.vcpus[..usize::from(vm.created_vcpus)].iter_mut() {
            v.state = VcpuState::Init;
            v.regs = None;
        }
        vm.vioapic = crate::vioapic::Vioapic::RESET;
        vm.state = VmState::Created;
        arch.vm_reset(vm);
        Ok(())
    }

    /// ACRN `hcall_set_vcpu_regs`: the VM must exist and not be running, `vcpu_id` must be
    /// below [`MAX_VCPUS_PER_VM`] and name a created vCPU, CR0/CR4 must be valid; every
    /// refusal is -EPERM.
    pub fn set_vcpu_regs(
        &mut self,
        vmid: u16,
        regs: &acrn::VcpuRegs,
        arch: &impl HvArch,
    ) -> HvResult {
        let vm = self.user_vm_mut(vmid)?;
        if matches!(vm.state, VmState::PoweredOff | VmState::Running) {
            return Err(hv_err!(EPERM));
        }
        let vcpu = vm
            .vcpus
            .get_mut(usize::from(regs.vcpu_id))
            .ok_or(hv_err!(EPERM))?;
        if vcpu.state == VcpuState::Offline {
            return Err(hv_err!(EPERM));
        }
        let r = regs.vcpu_regs;
        if !arch.cr0_cr4_valid(r.cr0, r.cr4) {
            return Err(hv_err!(EPERM));
        }
        vcpu.regs = Some(r);
        Ok(())
    }

    /// ACRN `hcall_set_ioreq_buffer`, after the u64 at param2 was read: only Created
    /// (-EPERM). A page that is not a whole page of Service VM RAM clears the buffer and
    /// fails with -EPERM (ACRN: any mapped GPA; we also want alignment and RAM).
    pub fn set_ioreq_buffer(&mut self, vmid: u16, gpa: u64) -> HvResult {
        let ok = is_aligned(gpa, PAGE_SIZE) && self.svc_mem.is_ram(gpa, PAGE_SIZE);
        let vm = self.user_vm_mut(vmid)?;
        if vm.state != VmState::Created {
            return Err(hv_err!(EPERM));
        }
        if !ok {
            vm.ioreq_buf = None;
            return Err(hv_err!(EPERM));
        }
        vm.ioreq_buf = Some(gpa);
        Ok(())
    }

    /// VM `vmid`, writable (for the vIOAPIC's MMIO emulation on the vCPU's pCPU).
    pub fn vm_mut_for_emulation(&mut self, vmid: u16) -> Option<&mut Vm> {
        self.user_vm_mut(vmid).ok()
    }

    /// Forgets VM `vmid`'s I/O request buffer.
    pub fn clear_ioreq_buffer(&mut self, vmid: u16) {
        if let Ok(vm) = self.vm_mut(vmid) {
            vm.ioreq_buf = None;
        }
    }

    /// ACRN `set_vm_memory_region` for one entry of HC_VM_SET_MEMORY_REGIONS on a User VM
    /// that is not powered off (-EPERM). See [`crate::memory`] for the rules; on success the
    /// nested page table (through `arch`) and the region set agree.
    pub fn set_memory_region(
        &mut self,
        vmid: u16,
        mr: &hv::VmMemoryRegion,
        arch: &mut impl HvArch,
    ) -> HvResult {
        if self.user_vm_mut(vmid)?.state == VmState::PoweredOff {
            return Err(hv_err!(EPERM));
        }
        match RegionOp::decode(mr, &self.svc_mem)? {
            RegionOp::Add(r) => {
                if r.size == 0 {
                    return Ok(());
                }
                let aliased = self.vms.iter().any(|o| {
                    o.id != vmid
                        && o.state != VmState::PoweredOff
                        && o.regions.overlaps_hpa(r.hpa, r.size)
                });
                let vm = &mut self.vms[usize::from(vmid)];
                if aliased {
                    return Err(hv_err!(EINVAL));
                }
                vm.regions.check_insert(&r)?;
                arch.map(vmid, &r)?;
                vm.regions.insert(r)
            }
            RegionOp::Del { gpa, size } => {
                let vm = &mut self.vms[usize::from(vmid)];
                vm.regions.check_remove(gpa, size)?;
                if size != 0 {
                    arch.unmap(vmid, gpa, size)?;
                }
                vm.regions.remove(gpa, size)
            }
        }
    }

    /// ACRN `hcall_service_vm_offline_cpu`: every Service VM vCPU with LAPIC id `lapic_id`
    /// goes offline; the BSP refuses with -EPERM. Unknown ids succeed.
    pub fn offline_service_vcpu(&mut self, lapic_id: u32, arch: &mut impl HvArch) -> HvResult {
        let svc = &mut self.vms[usize::from(SERVICE_VM_ID)];
        for (i, v) in svc.vcpus[..usize::from(svc.created_vcpus)]
            .iter_mut()
            .enumerate()
        {
            if v.lapic_id != lapic_id {
                continue;
            }
            if i == BSP_VCPU_ID {
                return Err(hv_err!(EPERM));
            }
            if v.state != VcpuState::Offline {
                v.state = VcpuState::Offline;
                self.offlined_service_pcpus |= 1 << v.pcpu;
                arch.offline_service_vcpu(i as u16, v.pcpu);
            }
        }
        Ok(())
    }
}

/// Set bits of `mask`, lowest first (ACRN's `ffs64` loop).
fn bits(mut mask: u64) -> impl Iterator<Item = u16> {
    core::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let b = mask.trailing_zeros();
        mask &= mask - 1;
        Some(b as u16)
    })
}

/// Writes `v` in decimal into `buf` (at most 5 digits; `buf` is long enough for a vmid).
fn write_decimal(buf: &mut [u8], v: u16) {
    let mut digits = [0u8; 5];
    let mut n = 0;
    let mut x = v;
    loop {
        digits[n] = b'0' + (x % 10) as u8;
        n += 1;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    for (dst, src) in buf.iter_mut().zip(digits[..n].iter().rev()) {
        *dst = *src;
    }
}
