// SPDX-License-Identifier: GPL-2.0

//! [`HvArch`] on SVM: one AMD nested page table per User VM, built from the frame pool.
//! Part 1 runs no User VM vCPU yet: START/PAUSE/RESET only log (part 2 schedules vCPUs on
//! the reserved pCPUs), but every mapping the Service VM requests is really built and torn
//! down, and the pool's usage is exported for leak checks.

use crate::frames::Frames;
use acrn_hv_boot::{debug, info};
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
        if let Some(npt) = self.npts.get_mut(usize::from(vm.id)).and_then(Option::take) {
            npt.destroy(&mut self.frames);
        }
        debug!(
            "vm{} destroyed; nested page-table frames in use: {}",
            vm.id,
            self.frames.in_use()
        );
    }

    fn vm_started(&mut self, vm: &Vm) {
        info!("vm{} started (User VM execution comes with part 2)", vm.id);
    }

    fn vm_paused(&mut self, vm: &Vm) {
        debug!("vm{} paused", vm.id);
    }

    fn vm_reset(&mut self, vm: &Vm) {
        debug!("vm{} reset", vm.id);
    }

    fn offline_service_vcpu(&mut self, vcpu_id: u16, pcpu: u16) {
        info!("Service VM vCPU {vcpu_id} (pCPU {pcpu}) offline");
    }
}
