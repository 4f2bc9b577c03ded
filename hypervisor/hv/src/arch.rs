// SPDX-License-Identifier: GPL-2.0

//! [`HvArch`] on SVM: one AMD nested page table per User VM, built from the frame pool.
//! START_VM hands the BSP to its reserved pCPU, PAUSE/RESET/DESTROY take it back (and wait
//! for it), NOTIFY_REQUEST_FINISH and INJECT_MSI wake it ([`crate::user_vcpu`]). The pool's
//! usage is exported for leak checks.

use crate::frames::Frames;
use crate::user_vcpu::{self, Launch};
use acrn_hv_boot::{debug, error, info};
use acrn_hv_core::arch::HvArch;
use acrn_hv_core::error::{HvResult, EINVAL};
use acrn_hv_core::hv_err;
use acrn_hv_core::memory::Region;
use acrn_hv_core::npt::{NestedPageTable, NptFormat, PageSize};
use acrn_hv_core::vm::{Vm, MAX_VMS};

/// The SVM backend's per-VM state.
pub struct SvmArch {
    /// Page-table frames (shared with the Service VM's table).
    pub frames: Frames,
    npts: [Option<NestedPageTable<NptFormat>>; MAX_VMS],
    max_page: PageSize,
}

impl SvmArch {
    /// The backend over `frames`, using nested leaves up to `max_page`.
    pub fn new(frames: Frames, max_page: PageSize) -> Self {
        Self {
            frames,
            npts: [const { None }; MAX_VMS],
            max_page,
        }
    }
}

impl HvArch for SvmArch {
    fn vm_created(&mut self, vm: &Vm) -> HvResult {
        user_vcpu::reset_vm(vm.id);
        let npt = NestedPageTable::new(&mut self.frames)?;
        match self.npts.get_mut(usize::from(vm.id)) {
            Some(slot @ None) => {
                *slot = Some(npt);
                debug!(
                    "vm{}: nested page table at {:#x}",
                    vm.id,
                    slot.as_ref().map_or(0, |n| n.root())
                );
                Ok(())
            }
            _ => {
                npt.destroy(&mut self.frames);
                Err(hv_err!(EINVAL))
            }
        }
    }

    fn map(&mut self, vmid: u16, r: &Region) -> HvResult {
        let max = self.max_page;
        // Split borrow: the table and the frames are distinct fields.
        let frames = &mut self.frames;
        let npt = self
            .npts
            .get_mut(usize::from(vmid))
            .and_then(Option::as_mut)
            .ok_or(hv_err!(EINVAL))?;
        npt.map(frames, r.gpa, r.hpa, r.size, r.attr, max)
    }

    fn unmap(&mut self, vmid: u16, gpa: u64, size: u64) -> HvResult {
        let frames = &mut self.frames;
        match self
            .npts
            .get_mut(usize::from(vmid))
            .and_then(Option::as_mut)
        {
            Some(npt) => npt.unmap(frames, gpa, size),
            None => Err(hv_err!(EINVAL)),
        }
    }

    fn vm_destroyed(&mut self, vm: &Vm) {
        let mut stopped = true;
        for v in vm.vcpus() {
            stopped &= user_vcpu::stop(v.pcpu, vm.id);
        }
        user_vcpu::reset_vm(vm.id);
        if let Some(npt) = self.npts.get_mut(usize::from(vm.id)).and_then(Option::take) {
            if stopped {
                npt.destroy(&mut self.frames);
            } else {
                // A vCPU may still run on it: leak the table (dropping it without
                // `destroy` keeps its frames allocated) rather than free it under the guest.
                error!("vm{}: nested page table leaked (vCPU still running)", vm.id);
                let _leaked = npt;
            }
        }
        debug!(
            "vm{} destroyed; nested page-table frames in use: {}",
            vm.id,
            self.frames.in_use()
        );
    }

    fn vm_started(&mut self, vm: &Vm) {
        let Some(n_cr3) = self
            .npts
            .get(usize::from(vm.id))
            .and_then(Option::as_ref)
            .map(|n| n.root())
        else {
            return;
        };
        // Only the BSP runs: ACRN starts the APs when the guest sends them INIT/SIPI
        // through its vLAPIC, which this minimal vLAPIC does not emulate.
        let Some(bsp) = vm.vcpus().first() else {
            return;
        };
        let l = Launch {
            vmid: vm.id,
            vcpu_id: 0,
            lapic_id: bsp.lapic_id,
            n_cr3,
            regs: bsp.regs,
            ioreq_page: vm.ioreq_buf,
            polling: vm.is_polling_ioreq(),
        };
        if user_vcpu::launch(bsp.pcpu, l) {
            debug!("vm{} started: vCPU 0 on pCPU {}", vm.id, bsp.pcpu);
        }
    }

    fn vm_paused(&mut self, vm: &Vm) {
        for v in vm.vcpus() {
            user_vcpu::stop(v.pcpu, vm.id);
        }
        debug!("vm{} paused", vm.id);
    }

    fn vm_reset(&mut self, vm: &Vm) {
        for v in vm.vcpus() {
            user_vcpu::stop(v.pcpu, vm.id);
        }
        user_vcpu::reset_vm(vm.id);
        debug!("vm{} reset", vm.id);
    }

    fn ioreq_finished(&mut self, vm: &Vm, vcpu_id: u16) {
        if let (Some(s), Some(v)) = (
            user_vcpu::vcpu_shared(vm.id, vcpu_id),
            vm.vcpus().get(usize::from(vcpu_id)),
        ) {
            s.event.signal();
            user_vcpu::kick(v.pcpu);
        }
    }

    fn deliver_interrupt(&mut self, vm: &Vm, vcpu_id: u16, vector: u8) {
        if let (Some(s), Some(v)) = (
            user_vcpu::vcpu_shared(vm.id, vcpu_id),
            vm.vcpus().get(usize::from(vcpu_id)),
        ) {
            if s.irr.set(vector) {
                user_vcpu::kick(v.pcpu);
            }
        }
    }

    fn offline_service_vcpu(&mut self, vcpu_id: u16, pcpu: u16) {
        info!("Service VM vCPU {vcpu_id} (pCPU {pcpu}) offline");
    }
}
