// SPDX-License-Identifier: GPL-2.0

//! Hypercall dispatch: permission checks, target-VM parsing and the handlers of part 1
//! (ACRN `arch/x86/guest/vmcall.c` and `common/hypercall.c`).
//!
//! [`vmcall`] follows ACRN `vmcall_vmexit_handler`:
//! 1. a VM that is neither the Service VM nor has `SECURE_WORLD`/`TEE`/`REE` in its guest
//!    flags gets **#UD** ([`HcOutcome::InjectUd`]);
//! 2. a call from CPL ≠ 0 gets **#GP(0)**;
//! 3. otherwise `dispatch_hypercall` runs and its `int32_t` goes to RAX sign-extended.
//!
//! `dispatch_hypercall` looks the handler up by the **low byte** of R8 only (`HC_IDX`). An
//! empty slot, a caller without permission, or a target VM that `parse_target_vm` cannot
//! find (id out of range, unreadable argument, no free slot for CREATE_VM) all give
//! **-ENOTTY**. `parse_target_vm` matches the **full** id, so a non-canonical id (e.g.
//! `0x10` instead of `0x8000_0010`) reaches the right handler with the default target
//! (param1 as a relative vmid), exactly as in ACRN.
//!
//! Handlers mostly return ACRN's bare -1 (= -EPERM); guest-memory faults in handlers that
//! return `copy_*_gpa`'s value directly are -EINVAL. [`HYPERCALLS`] lists every id with its
//! status; the ones not implemented yet answer -ENOTTY.

use crate::arch::HvArch;
use crate::error::{to_ret, HvResult, EINVAL, ENOTTY, EPERM};
use crate::guest_mem::GuestMemory;
use crate::hv_err;
use crate::vlapic::{DeliveryMode, Msi};
use crate::vm::{VmState, GUEST_FLAGS_ALLOWING_HYPERCALLS, MAX_VMS, SERVICE_VM_ID};
use crate::vm_table::{rel_vmid_2_vmid, vmid_2_rel_vmid, VmTable};
use acrn_uapi::{acrn, hv};

/// What the exit handler must do after a `vmcall`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HcOutcome {
    /// Inject #UD (caller may not use hypercalls); RAX untouched.
    InjectUd,
    /// Inject #GP(0) (caller not in ring 0); RAX untouched.
    InjectGp,
    /// Store this in RAX (the handler's `int32_t`, sign-extended) and advance RIP.
    Return(i64),
}

/// The calling vCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HcCaller {
    /// Absolute id of the caller's VM.
    pub vmid: u16,
    /// Current privilege level (SVM `VMCB.CPL`, VMX `GUEST_CS_SEL & 3`).
    pub cpl: u8,
}

/// The registers a hypercall reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HcArgs {
    /// R8: hypercall id.
    pub id: u64,
    /// RDI: parameter 1.
    pub param1: u64,
    /// RSI: parameter 2.
    pub param2: u64,
}

/// Implementation status of a hypercall id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HcStatus {
    /// Handled as ACRN does.
    Implemented,
    /// ACRN handles it; here it answers -ENOTTY until implemented (the note says when).
    NotYet(&'static str),
    /// Defined but without a dispatch entry in ACRN either (-ENOTTY there too).
    NoDispatchEntry,
}

/// One row of [`HYPERCALLS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HcInfo {
    /// Full id (`0x8000_00xx`).
    pub id: u64,
    /// ACRN name without `HC_`.
    pub name: &'static str,
    /// ACRN `permission_flags`: 0 = Service VM only, else guest flags that allow it.
    pub permission_flags: u64,
    /// Status here.
    pub status: HcStatus,
}

const fn row(id: u64, name: &'static str, status: HcStatus) -> HcInfo {
    HcInfo {
        id,
        name,
        permission_flags: 0,
        status,
    }
}

const fn guest_row(id: u64, name: &'static str, permission_flags: u64) -> HcInfo {
    HcInfo {
        id,
        name,
        permission_flags,
        status: HcStatus::NotYet("Trusty/TEE not supported"),
    }
}

use HcStatus::{Implemented as Done, NoDispatchEntry as Obsolete, NotYet};

/// Every hypercall id of `acrn_hv_defs.h`, with its status here (for the documentation
/// and for logs).
pub const HYPERCALLS: &[HcInfo] = &[
    row(hv::HC_GET_API_VERSION, "GET_API_VERSION", Done),
    row(
        hv::HC_SERVICE_VM_OFFLINE_CPU,
        "SERVICE_VM_OFFLINE_CPU",
        Done,
    ),
    row(hv::HC_SET_CALLBACK_VECTOR, "SET_CALLBACK_VECTOR", Done),
    row(hv::HC_CREATE_VM, "CREATE_VM", Done),
    row(hv::HC_DESTROY_VM, "DESTROY_VM", Done),
    row(hv::HC_START_VM, "START_VM", Done),
    row(hv::HC_PAUSE_VM, "PAUSE_VM", Done),
    row(hv::HC_CREATE_VCPU, "CREATE_VCPU", Done),
    row(hv::HC_RESET_VM, "RESET_VM", Done),
    row(hv::HC_SET_VCPU_REGS, "SET_VCPU_REGS", Done),
    row(hv::HC_INJECT_MSI, "INJECT_MSI", Done),
    row(
        hv::HC_VM_INTR_MONITOR,
        "VM_INTR_MONITOR",
        NotYet("needs passthrough interrupts"),
    ),
    row(hv::HC_SET_IRQLINE, "SET_IRQLINE", Done),
    row(hv::HC_SET_IOREQ_BUFFER, "SET_IOREQ_BUFFER", Done),
    row(hv::HC_NOTIFY_REQUEST_FINISH, "NOTIFY_REQUEST_FINISH", Done),
    row(
        hv::HC_ASYNCIO_ASSIGN,
        "ASYNCIO_ASSIGN",
        NotYet("not in upstream Linux"),
    ),
    row(
        hv::HC_ASYNCIO_DEASSIGN,
        "ASYNCIO_DEASSIGN",
        NotYet("not in upstream Linux"),
    ),
    row(hv::HC_VM_GPA2HPA, "VM_GPA2HPA", NotYet("unused by HSM")),
    row(hv::HC_VM_SET_MEMORY_REGIONS, "VM_SET_MEMORY_REGIONS", Done),
    row(
        hv::HC_VM_WRITE_PROTECT_PAGE,
        "VM_WRITE_PROTECT_PAGE",
        NotYet("unused by HSM"),
    ),
    row(
        hv::HC_SETUP_SBUF,
        "SETUP_SBUF",
        NotYet("not in upstream Linux"),
    ),
    row(hv::HC_ASSIGN_PTDEV, "ASSIGN_PTDEV", Obsolete),
    row(hv::HC_DEASSIGN_PTDEV, "DEASSIGN_PTDEV", Obsolete),
    row(hv::HC_VM_PCI_MSIX_REMAP, "VM_PCI_MSIX_REMAP", Obsolete),
    row(
        hv::HC_SET_PTDEV_INTR_INFO,
        "SET_PTDEV_INTR_INFO",
        NotYet("passthrough"),
    ),
    row(
        hv::HC_RESET_PTDEV_INTR_INFO,
        "RESET_PTDEV_INTR_INFO",
        NotYet("passthrough"),
    ),
    row(hv::HC_ASSIGN_PCIDEV, "ASSIGN_PCIDEV", NotYet("passthrough")),
    row(
        hv::HC_DEASSIGN_PCIDEV,
        "DEASSIGN_PCIDEV",
        NotYet("passthrough"),
    ),
    row(
        hv::HC_ASSIGN_MMIODEV,
        "ASSIGN_MMIODEV",
        NotYet("passthrough"),
    ),
    row(
        hv::HC_DEASSIGN_MMIODEV,
        "DEASSIGN_MMIODEV",
        NotYet("passthrough"),
    ),
    row(
        hv::HC_ADD_VDEV,
        "ADD_VDEV",
        NotYet("hypervisor-emulated PCI devices"),
    ),
    row(
        hv::HC_REMOVE_VDEV,
        "REMOVE_VDEV",
        NotYet("hypervisor-emulated PCI devices"),
    ),
    row(hv::HC_SETUP_HV_NPK_LOG, "SETUP_HV_NPK_LOG", NotYet("debug")),
    row(hv::HC_PROFILING_OPS, "PROFILING_OPS", NotYet("debug")),
    row(hv::HC_GET_HW_INFO, "GET_HW_INFO", NotYet("debug")),
    guest_row(
        hv::HC_INITIALIZE_TRUSTY,
        "INITIALIZE_TRUSTY",
        hv::GUEST_FLAG_SECURE_WORLD_ENABLED,
    ),
    guest_row(
        hv::HC_WORLD_SWITCH,
        "WORLD_SWITCH",
        hv::GUEST_FLAG_SECURE_WORLD_ENABLED,
    ),
    guest_row(
        hv::HC_SAVE_RESTORE_SWORLD_CTX,
        "SAVE_RESTORE_SWORLD_CTX",
        hv::GUEST_FLAG_SECURE_WORLD_ENABLED,
    ),
    row(hv::HC_PM_GET_CPU_STATE, "PM_GET_CPU_STATE", Done),
    guest_row(
        hv::HC_TEE_VCPU_BOOT_DONE,
        "TEE_VCPU_BOOT_DONE",
        hv::GUEST_FLAG_TEE,
    ),
    guest_row(
        hv::HC_SWITCH_EE,
        "SWITCH_EE",
        hv::GUEST_FLAG_TEE | hv::GUEST_FLAG_REE,
    ),
];

/// The [`HYPERCALLS`] row whose low byte matches `id` (what the dispatcher will run).
pub fn hypercall_info(id: u64) -> Option<&'static HcInfo> {
    HYPERCALLS
        .iter()
        .find(|h| hv::hc_idx(h.id) == hv::hc_idx(id))
}

/// The handlers implemented here, by `HC_IDX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handler {
    GetApiVersion,
    ServiceVmOfflineCpu,
    SetCallbackVector,
    CreateVm,
    DestroyVm,
    StartVm,
    PauseVm,
    CreateVcpu,
    ResetVm,
    SetVcpuRegs,
    SetIoreqBuffer,
    SetMemoryRegions,
    PmGetCpuState,
    NotifyRequestFinish,
    InjectMsi,
    SetIrqline,
}

impl Handler {
    fn from_idx(idx: u8) -> Option<Self> {
        const fn i(id: u64) -> u8 {
            hv::hc_idx(id)
        }
        const GET_API_VERSION: u8 = i(hv::HC_GET_API_VERSION);
        const SERVICE_VM_OFFLINE_CPU: u8 = i(hv::HC_SERVICE_VM_OFFLINE_CPU);
        const SET_CALLBACK_VECTOR: u8 = i(hv::HC_SET_CALLBACK_VECTOR);
        const CREATE_VM: u8 = i(hv::HC_CREATE_VM);
        const DESTROY_VM: u8 = i(hv::HC_DESTROY_VM);
        const START_VM: u8 = i(hv::HC_START_VM);
        const PAUSE_VM: u8 = i(hv::HC_PAUSE_VM);
        const CREATE_VCPU: u8 = i(hv::HC_CREATE_VCPU);
        const RESET_VM: u8 = i(hv::HC_RESET_VM);
        const SET_VCPU_REGS: u8 = i(hv::HC_SET_VCPU_REGS);
        const SET_IOREQ_BUFFER: u8 = i(hv::HC_SET_IOREQ_BUFFER);
        const VM_SET_MEMORY_REGIONS: u8 = i(hv::HC_VM_SET_MEMORY_REGIONS);
        const PM_GET_CPU_STATE: u8 = i(hv::HC_PM_GET_CPU_STATE);
        const NOTIFY_REQUEST_FINISH: u8 = i(hv::HC_NOTIFY_REQUEST_FINISH);
        const INJECT_MSI: u8 = i(hv::HC_INJECT_MSI);
        const SET_IRQLINE: u8 = i(hv::HC_SET_IRQLINE);
        Some(match idx {
            GET_API_VERSION => Self::GetApiVersion,
            SERVICE_VM_OFFLINE_CPU => Self::ServiceVmOfflineCpu,
            SET_CALLBACK_VECTOR => Self::SetCallbackVector,
            CREATE_VM => Self::CreateVm,
            DESTROY_VM => Self::DestroyVm,
            START_VM => Self::StartVm,
            PAUSE_VM => Self::PauseVm,
            CREATE_VCPU => Self::CreateVcpu,
            RESET_VM => Self::ResetVm,
            SET_VCPU_REGS => Self::SetVcpuRegs,
            SET_IOREQ_BUFFER => Self::SetIoreqBuffer,
            VM_SET_MEMORY_REGIONS => Self::SetMemoryRegions,
            PM_GET_CPU_STATE => Self::PmGetCpuState,
            NOTIFY_REQUEST_FINISH => Self::NotifyRequestFinish,
            INJECT_MSI => Self::InjectMsi,
            SET_IRQLINE => Self::SetIrqline,
            _ => return None,
        })
    }
}

/// ACRN `vmcall_vmexit_handler` for a `vmcall` by `caller` (see the module doc).
pub fn vmcall<G: GuestMemory, A: HvArch>(
    vms: &mut VmTable,
    mem: &mut G,
    arch: &mut A,
    caller: HcCaller,
    args: HcArgs,
) -> HcOutcome {
    let Some(vm) = vms.vm(caller.vmid) else {
        return HcOutcome::InjectUd;
    };
    // ACRN is_guest_hypercall.
    if !vm.is_service_vm() && vm.guest_flags & GUEST_FLAGS_ALLOWING_HYPERCALLS == 0 {
        HcOutcome::InjectUd
    } else if caller.cpl != 0 {
        HcOutcome::InjectGp
    } else {
        HcOutcome::Return(i64::from(dispatch(vms, mem, arch, caller.vmid, args)))
    }
}

/// ACRN `dispatch_hypercall`.
fn dispatch<G: GuestMemory, A: HvArch>(
    vms: &mut VmTable,
    mem: &mut G,
    arch: &mut A,
    vmid: u16,
    args: HcArgs,
) -> i32 {
    let Some(handler) = Handler::from_idx(hv::hc_idx(args.id)) else {
        return -ENOTTY;
    };
    // Every implemented handler has permission_flags == 0: Service VM only. Guest-flag
    // entries (Trusty, TEE) are not implemented, so a permitted guest gets -ENOTTY too.
    if vmid != SERVICE_VM_ID {
        return -ENOTTY;
    }
    let Some(target) = parse_target_vm(vms, mem, args) else {
        return -ENOTTY;
    };
    let mut hc = Hc {
        vms,
        mem,
        arch,
        args,
    };
    match handler {
        Handler::GetApiVersion => hc.get_api_version(),
        Handler::ServiceVmOfflineCpu => {
            to_ret(hc.vms.offline_service_vcpu(args.param1 as u32, hc.arch))
        }
        Handler::SetCallbackVector => to_ret(hc.vms.set_upcall_vector(args.param1)),
        Handler::CreateVm => hc.create_vm(target),
        Handler::DestroyVm => to_ret(hc.vms.destroy_vm(target, hc.arch)),
        Handler::StartVm => to_ret(hc.vms.start_vm(target, hc.arch)),
        Handler::PauseVm => to_ret(hc.vms.pause_vm(target, hc.arch)),
        // ACRN hcall_create_vcpu: legacy, returns 0.
        Handler::CreateVcpu => 0,
        Handler::ResetVm => to_ret(hc.reset_vm(target)),
        Handler::SetVcpuRegs => to_ret(hc.set_vcpu_regs(target)),
        Handler::SetIoreqBuffer => to_ret(hc.set_ioreq_buffer(target)),
        Handler::SetMemoryRegions => to_ret(hc.set_memory_regions(target)),
        Handler::PmGetCpuState => hc.pm_get_cpu_state(target),
        Handler::NotifyRequestFinish => to_ret(hc.notify_request_finish(target)),
        Handler::InjectMsi => to_ret(hc.inject_msi(target)),
        Handler::SetIrqline => to_ret(hc.set_irqline(target)),
    }
}

/// ACRN `parse_target_vm`: the absolute id of the VM a Service VM hypercall acts on, or
/// `None` (→ -ENOTTY). Matches the full id. For CREATE_VM this claims a slot by name.
fn parse_target_vm<G: GuestMemory>(vms: &mut VmTable, mem: &G, args: HcArgs) -> Option<u16> {
    let vmid = match args.id {
        hv::HC_CREATE_VM => {
            let cv: acrn::VmCreation = mem.read_obj(args.param1).ok()?;
            vms.get_vmid_by_name(&cv.uuid)
                .or_else(|| vms.allocate_vmid(&cv.uuid))?
        }
        hv::HC_PM_GET_CPU_STATE => rel_vmid_2_vmid(hv::PmCmd::from_u64(args.param1).vmid.into()),
        hv::HC_VM_SET_MEMORY_REGIONS => {
            let r: hv::SetRegions = mem.read_obj(args.param1).ok()?;
            rel_vmid_2_vmid(r.vmid)
        }
        hv::HC_GET_API_VERSION
        | hv::HC_SERVICE_VM_OFFLINE_CPU
        | hv::HC_SET_CALLBACK_VECTOR
        | hv::HC_SETUP_HV_NPK_LOG
        | hv::HC_PROFILING_OPS
        | hv::HC_GET_HW_INFO => SERVICE_VM_ID,
        _ => rel_vmid_2_vmid(args.param1 as u16),
    };
    (usize::from(vmid) < MAX_VMS).then_some(vmid)
}

/// One hypercall in progress.
struct Hc<'a, G, A> {
    vms: &'a mut VmTable,
    mem: &'a mut G,
    arch: &'a mut A,
    args: HcArgs,
}

impl<G: GuestMemory, A: HvArch> Hc<'_, G, A> {
    /// ACRN `hcall_get_api_version`: `copy_to_gpa`'s result (0 or -EINVAL).
    fn get_api_version(&mut self) -> i32 {
        let v = hv::HcApiVersion {
            major_version: hv::ACRN_API_MAJOR_VERSION,
            minor_version: hv::ACRN_API_MINOR_VERSION,
        };
        to_ret(self.mem.write_obj(self.args.param1, &v))
    }

    /// ACRN `hcall_create_vm` (see [`VmTable::create_vm`] for the slot itself).
    fn create_vm(&mut self, vmid: u16) -> i32 {
        let ret = self.create_vm_inner(vmid);
        // ACRN: on failure the name of a dynamic slot is forgotten.
        if ret.is_err() {
            self.vms.release_name(vmid);
        }
        match ret {
            Ok(r) => r,
            Err(e) => e.code(),
        }
    }

    fn create_vm_inner(&mut self, vmid: u16) -> HvResult<i32> {
        let gpa = self.args.param1;
        // Every refusal below is ACRN's -1.
        let mut cv: acrn::VmCreation = self.mem.read_obj(gpa).map_err(|_| hv_err!(EPERM))?;
        let vm = self.vms.vm(vmid).ok_or(hv_err!(EPERM))?;
        if vm.state != VmState::PoweredOff {
            return Err(hv_err!(EPERM));
        }
        let flags = cv.vm_flag & crate::vm::DM_OWNED_GUEST_FLAG_MASK;
        // Post-launched VMs choose pCPUs among the allowed ones only; 0 = all of them.
        let allowed = self.vms.user_vm_pcpus();
        if cv.cpu_affinity & !allowed != 0 {
            return Err(hv_err!(EPERM));
        }
        let bitmap = if cv.cpu_affinity != 0 {
            cv.cpu_affinity
        } else {
            allowed
        };
        // GUEST_FLAG_RT must be set if GUEST_FLAG_LAPIC_PASSTHROUGH is.
        if flags & hv::GUEST_FLAG_LAPIC_PASSTHROUGH != 0 && flags & hv::GUEST_FLAG_RT == 0 {
            return Err(hv_err!(EPERM));
        }
        let created = match self.vms.create_vm(vmid, flags, bitmap, self.arch) {
            Ok(n) => {
                cv.vmid = vmid_2_rel_vmid(vmid);
                cv.vcpu_num = n;
                true
            }
            // ACRN: a failed create_vm still returns copy_to_gpa's result, with
            // vmid = ACRN_INVALID_VMID for HSM to check.
            Err(_) => {
                cv.vmid = hv::ACRN_INVALID_VMID;
                false
            }
        };
        if let Err(e) = self.mem.write_obj(gpa, &cv) {
            // The caller cannot learn the vmid: undo rather than leak (ACRN keeps the VM).
            if created {
                let _ = self.vms.pause_vm(vmid, self.arch);
                let _ = self.vms.destroy_vm(vmid, self.arch);
            }
            return Err(e);
        }
        if !created {
            // Not an error for the caller (RAX = 0), but the slot's name is released.
            self.vms.release_name(vmid);
        }
        Ok(0)
    }

    /// ACRN `hcall_reset_vm`, then `reset_vm_ioreqs` (all slots FREE).
    fn reset_vm(&mut self, vmid: u16) -> HvResult {
        self.vms.reset_vm(vmid, self.arch)?;
        if let Some(buf) = self.vms.vm(vmid).and_then(|v| v.ioreq_buf) {
            free_ioreq_slots(self.mem, buf)?;
        }
        Ok(())
    }

    /// ACRN `hcall_set_vcpu_regs`: param2 = GPA of `acrn_vcpu_regs`; all refusals -1.
    fn set_vcpu_regs(&mut self, vmid: u16) -> HvResult {
        if self.args.param2 == 0 {
            return Err(hv_err!(EPERM));
        }
        let regs: acrn::VcpuRegs = self
            .mem
            .read_obj(self.args.param2)
            .map_err(|_| hv_err!(EPERM))?;
        self.vms.set_vcpu_regs(vmid, &regs, self.arch)
    }

    /// ACRN `hcall_set_ioreq_buffer`: param2 = GPA of a u64 holding the page's GPA; only a
    /// Created VM; all slots become FREE. All refusals -1.
    fn set_ioreq_buffer(&mut self, vmid: u16) -> HvResult {
        if self.vms.vm(vmid).map(|v| v.state) != Some(VmState::Created) {
            return Err(hv_err!(EPERM));
        }
        let buf: u64 = self
            .mem
            .read_obj(self.args.param2)
            .map_err(|_| hv_err!(EPERM))?;
        self.vms.set_ioreq_buffer(vmid, buf)?;
        if free_ioreq_slots(self.mem, buf).is_err() {
            self.vms.clear_ioreq_buffer(vmid);
            return Err(hv_err!(EPERM));
        }
        Ok(())
    }

    /// ACRN `hcall_set_vm_memory_regions`: param1 = GPA of `set_regions`. Entries are applied
    /// in order and the first failure is returned (earlier entries stay applied). Deviations:
    /// the Service VM is not a valid target (-1), and an unreadable entry fails with -1
    /// even after successful ones (ACRN would return the last entry's 0).
    fn set_memory_regions(&mut self, vmid: u16) -> HvResult {
        let regions: hv::SetRegions = self
            .mem
            .read_obj(self.args.param1)
            .map_err(|_| hv_err!(EPERM))?;
        let state = self.vms.vm(vmid).map(|v| v.state);
        if vmid == SERVICE_VM_ID || matches!(state, None | Some(VmState::PoweredOff)) {
            return Err(hv_err!(EPERM));
        }
        // ACRN starts with ret = -1: an empty batch fails.
        if regions.mr_num == 0 {
            return Err(hv_err!(EPERM));
        }
        let size = core::mem::size_of::<hv::VmMemoryRegion>() as u64;
        for idx in 0..u64::from(regions.mr_num) {
            let gpa = regions
                .regions_gpa
                .checked_add(idx * size)
                .ok_or(hv_err!(EPERM))?;
            let mr: hv::VmMemoryRegion = self.mem.read_obj(gpa).map_err(|_| hv_err!(EPERM))?;
            self.vms.set_memory_region(vmid, &mr, self.arch)?;
        }
        Ok(())
    }

    /// ACRN `hcall_get_cpu_pm_state` with no P-states and no C-states: only
    /// GET_CX_CNT succeeds, writing a `u8` 0 to param2; the target must be Created or
    /// Paused. Everything else is -1.
    fn pm_get_cpu_state(&mut self, vmid: u16) -> i32 {
        let state = self.vms.vm(vmid).map(|v| v.state);
        if !matches!(state, Some(VmState::Created | VmState::Paused)) {
            return -EPERM;
        }
        match self.args.param1 & acrn::PMCMD_TYPE_MASK {
            acrn::ACRN_PMCMD_GET_CX_CNT => to_ret(self.mem.write_obj(self.args.param2, &0u8)),
            _ => -EPERM,
        }
    }
}

impl<G: GuestMemory, A: HvArch> Hc<'_, G, A> {
    /// ACRN `hcall_notify_ioreq_finish`: param2 = vCPU id. -1 unless the target is a live
    /// User VM with an I/O request buffer and that vCPU exists; in polling mode nothing is
    /// signalled (the vCPU polls its slot), otherwise the vCPU's IOREQ event
    /// ([`HvArch::ioreq_finished`]).
    fn notify_request_finish(&mut self, vmid: u16) -> HvResult {
        let vm = self.vms.vm(vmid).ok_or(hv_err!(EPERM))?;
        if vm.is_service_vm() || vm.state == VmState::PoweredOff {
            return Err(hv_err!(EPERM));
        }
        let vcpu = u16::try_from(self.args.param2).map_err(|_| hv_err!(EPERM))?;
        crate::ioreq::notify_request_finish(
            vm.ioreq_buf.is_some(),
            vcpu,
            vm.created_vcpus,
            true,
            None,
        )?;
        if !vm.is_polling_ioreq() {
            self.arch.ioreq_finished(vm, vcpu);
        }
        Ok(())
    }

    /// ACRN `hcall_inject_msi`: param2 = GPA of `acrn_msi_entry`; the target must be a User
    /// VM that is not powered off (-1); an unreadable entry is -EINVAL (`copy_from_gpa`);
    /// an address outside 0xFEEx_xxxx is -1. Fixed and lowest-priority MSIs go to every
    /// vCPU the destination names ([`Msi::targets`]), other delivery modes are accepted
    /// and dropped (ACRN logs them).
    fn inject_msi(&mut self, vmid: u16) -> HvResult {
        let vm = self.vms.vm(vmid).ok_or(hv_err!(EPERM))?;
        if vm.is_service_vm() || vm.state == VmState::PoweredOff {
            return Err(hv_err!(EPERM));
        }
        let e: acrn::MsiEntry = self.mem.read_obj(self.args.param2)?;
        let msi = Msi::decode(e.msi_addr, e.msi_data).ok_or(hv_err!(EPERM))?;
        self.deliver(vmid, &msi);
        Ok(())
    }

    /// ACRN `hcall_set_irqline`: param2 = `acrn_irqline_ops` by value. -1 unless the target
    /// is a live User VM; a GSI beyond the vIOAPIC's 24 pins or an unknown operation is
    /// ignored (0), as in ACRN. A rising edge on an unmasked pin is delivered like an MSI
    /// with the pin's redirection entry ([`crate::vioapic`]).
    fn set_irqline(&mut self, vmid: u16) -> HvResult {
        let vm = self.vms.vm_mut_for_emulation(vmid).ok_or(hv_err!(EPERM))?;
        if vm.state == VmState::PoweredOff {
            return Err(hv_err!(EPERM));
        }
        let ops = hv::IrqlineOps::from_u64(self.args.param2);
        if let Ok(Some(msi)) = vm.vioapic.set_irqline(ops.gsi, ops.op) {
            self.deliver(vmid, &msi);
        }
        Ok(())
    }

    /// Delivers `msi` to VM `vmid`'s vCPUs it names: fixed and lowest priority only (other
    /// delivery modes are dropped, ACRN logs them), lowest priority to the first target.
    fn deliver(&mut self, vmid: u16, msi: &Msi) {
        let Some(vm) = self.vms.vm(vmid) else {
            return;
        };
        if !matches!(msi.mode, DeliveryMode::Fixed | DeliveryMode::LowestPriority) {
            return;
        }
        for (id, v) in vm.vcpus().iter().enumerate() {
            if msi.targets(v.lapic_id) {
                self.arch.deliver_interrupt(vm, id as u16, msi.vector);
                if msi.mode == DeliveryMode::LowestPriority {
                    break;
                }
            }
        }
    }
}

/// Sets the state of all 16 slots of the I/O request page at `buf` to FREE (ACRN
/// `hcall_set_ioreq_buffer` loop / `reset_vm_ioreqs`).
fn free_ioreq_slots<G: GuestMemory>(mem: &mut G, buf: u64) -> HvResult {
    let slot = core::mem::size_of::<acrn::IoRequest>() as u64;
    let off = core::mem::offset_of!(acrn::IoRequest, processed) as u64;
    for i in 0..acrn::ACRN_IO_REQUEST_MAX as u64 {
        let gpa = buf.checked_add(i * slot + off).ok_or(hv_err!(EINVAL))?;
        mem.write_obj(gpa, &acrn::ACRN_IOREQ_STATE_FREE)?;
    }
    Ok(())
}
