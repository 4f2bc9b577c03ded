// SPDX-License-Identifier: GPL-2.0

//! One User VM per open file of `/dev/acrn_hsm` (Linux `drivers/virt/acrn/vm.c`).
//!
//! A file starts with no VM (`vmid` = `ACRN_INVALID_VMID`) until `ACRN_IOCTL_CREATE_VM`
//! succeeds; until then every other ioctl gets `EINVAL`, as in the C driver.
//!
//! Locking: [`Vm::inner`] is held across the hypercalls that name the VM id, so a concurrent
//! `DESTROY_VM` on the same file can not free the id (and let the hypervisor hand it to
//! another VM) while a call is using it. It is never held across a user copy or a page pin.

use crate::{
    acrn::{VmCreation, VmMemmap},
    guest_ram::RamMapping,
    hv, hypercall, ioctl,
    ioeventfd::VmIoeventfds,
    ioreq::Ioreqs,
    irqfd::Irqfds,
    kext::ioctl::IoctlArg,
    kext::miscdev::MiscDevice,
    mm::{self, PinnedPages},
    pfnmap, upcall,
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// The VM id of a file that has no VM (`ACRN_INVALID_VMID` in the C driver).
pub(crate) const ACRN_INVALID_VMID: u16 = 0xffff;

/// The I/O side of a VM: its I/O requests (owning the pinned request page), ioeventfds and
/// irqfds, from `CREATE_VM` to destroy.
pub(crate) struct VmIo {
    pub(crate) ioreqs: Arc<Ioreqs>,
    pub(crate) ioeventfds: VmIoeventfds,
    pub(crate) irqfds: Arc<Irqfds>,
}

impl VmIo {
    /// Sets up the I/O side of VM `vmid` (C `acrn_ioreq_init` after the hypercall,
    /// `acrn_ioeventfd_init`, `acrn_irqfd_init`) and registers it with the dispatcher.
    fn new(vmid: u16, vcpu_num: u16, page: PinnedPages) -> Result<Arc<Self>> {
        let ioreqs = Ioreqs::new(vmid, vcpu_num, page)?;
        let io = Arc::new(
            VmIo {
                ioeventfds: VmIoeventfds::new(&ioreqs)?,
                irqfds: Irqfds::new(vmid)?,
                ioreqs,
            },
            GFP_KERNEL,
        )?;
        upcall::add(io.ioreqs.clone())?;
        Ok(io)
    }

    /// Tears the I/O side down in upstream order, once the VM is gone (or abandoned).
    fn deinit(&self) {
        upcall::remove(&self.ioreqs);
        self.ioeventfds.deinit(&self.ioreqs);
        self.irqfds.deinit();
        self.ioreqs.deinit();
    }
}

/// The mutable state of a VM, behind [`Vm::inner`].
pub(crate) struct VmInner {
    /// The hypervisor's id of the VM, or [`ACRN_INVALID_VMID`].
    pub(crate) vmid: u16,
    /// The I/O side, from `CREATE_VM` to destroy.
    io: Option<Arc<VmIo>>,
    /// The page the hypervisor writes interrupt statistics to (`VM_INTR_MONITOR`).
    monitor_page: Option<PinnedPages>,
}

impl VmInner {
    /// The VM id, `EINVAL` if there is no VM.
    pub(crate) fn id(&self) -> Result<u16> {
        match self.vmid {
            ACRN_INVALID_VMID => Err(EINVAL),
            id => Ok(id),
        }
    }

    /// The I/O side, `EINVAL` if there is no VM.
    pub(crate) fn io(&self) -> Result<Arc<VmIo>> {
        self.io.clone().ok_or(EINVAL)
    }

    /// `acrn_vm_destroy`: idempotent; `HC_DESTROY_VM`, then (upstream order) the I/O
    /// clients are destroyed and the I/O request page and the guest RAM are unmapped and
    /// unpinned (once no kernel client holds a VM reference any more: see
    /// [`crate::guest_ram`]). If the hypercall fails nothing changes.
    pub(crate) fn destroy(&mut self) -> Result {
        let Ok(vmid) = self.id() else {
            return Ok(());
        };
        // No completion may name the VM id once the hypervisor may reuse it.
        if let Some(io) = &self.io {
            io.ioreqs.set_alive(false);
        }
        if let Err(e) = hypercall::destroy_vm(vmid) {
            if let Some(io) = &self.io {
                io.ioreqs.set_alive(true);
            }
            return Err(e);
        }
        if let Some(io) = self.io.take() {
            io.ioreqs.ram().close();
            io.deinit();
        }
        self.monitor_page = None;
        self.vmid = ACRN_INVALID_VMID;
        Ok(())
    }

    /// Teardown on `release()`: pauses the VM (a DM that dies leaves it running; ACRN destroys
    /// paused VMs only), then destroys it. If the hypervisor still refuses, the pages stay
    /// pinned forever: it may still map them into the guest.
    fn release(&mut self) {
        let Ok(vmid) = self.id() else {
            return;
        };
        let _ = hypercall::pause_vm(vmid);
        if self.destroy().is_err() {
            pr_info!(
                "VM {} could not be destroyed; its pages stay pinned\n",
                vmid
            );
            if let Some(io) = self.io.take() {
                io.deinit();
                core::mem::forget(io);
            }
            // The guest RAM belongs to the forgotten I/O side.
            core::mem::forget(self.monitor_page.take());
        }
    }
}

/// A User VM, owned by one open file.
#[pin_data]
pub(crate) struct Vm {
    #[pin]
    pub(crate) inner: Mutex<VmInner>,
}

impl Vm {
    /// The VM id, or [`ACRN_INVALID_VMID`] before `CREATE_VM`.
    pub(crate) fn vmid(&self) -> u16 {
        self.inner.lock().vmid
    }

    /// The VM's I/O side; `EINVAL` if there is no VM. The lock is not kept: the I/O
    /// request ioctls may block (ATTACH) or pause the dispatcher.
    pub(crate) fn io(&self) -> Result<Arc<VmIo>> {
        self.inner.lock().io()
    }

    /// `ACRN_IOCTL_CREATE_VM` (`acrn_vm_create` + `acrn_ioreq_init`).
    pub(crate) fn create(&self, arg: IoctlArg) -> Result<isize> {
        let mut param = KBox::new(arg.read::<VmCreation>()?, GFP_KERNEL)?;
        if param.reserved0 | param.reserved1 != 0 {
            return Err(EINVAL);
        }
        // The C driver pins after HC_CREATE_VM; either way a bad page gives EINVAL.
        let ioreq = PinnedPages::pin(param.ioreq_buf, 1).map_err(|_| EINVAL)?;
        let ioreq_pa = KBox::new(ioreq.phys(0), GFP_KERNEL)?;
        let mut ioreq = Some(ioreq);
        {
            let mut inner = self.inner.lock();
            // A second CREATE_VM on a file: the C driver creates a VM in the hypervisor, fails
            // on the busy ioreq page and loses the first VM; we refuse up front.
            if inner.vmid != ACRN_INVALID_VMID {
                return Err(EINVAL);
            }
            if hypercall::create_vm(&mut param).is_err() || param.vmid == ACRN_INVALID_VMID {
                return Err(EINVAL);
            }
            if hypercall::set_ioreq_buffer(param.vmid, &ioreq_pa).is_err() {
                let _ = hypercall::destroy_vm(param.vmid);
                return Err(EINVAL);
            }
            let registered = ioreq
                .take()
                .ok_or(EINVAL)
                .and_then(|page| VmIo::new(param.vmid, param.vcpu_num, page));
            match registered {
                Ok(io) => inner.io = Some(io),
                Err(e) => {
                    // The hypervisor knows the page: keep it pinned unless the VM is gone.
                    if hypercall::destroy_vm(param.vmid).is_err() {
                        core::mem::forget(ioreq.take());
                    }
                    return Err(e);
                }
            }
            inner.vmid = param.vmid;
        }
        if arg.write(&*param).is_err() {
            let _ = self.inner.lock().destroy();
            return Err(EFAULT);
        }
        Ok(0)
    }

    /// `ACRN_IOCTL_SET_MEMSEG`.
    pub(crate) fn set_memseg(&self, memmap: &VmMemmap) -> Result {
        match memmap.r#type {
            crate::acrn::ACRN_MEMMAP_RAM => self.ram_map(memmap),
            crate::acrn::ACRN_MEMMAP_MMIO => {
                let regions = mm::mmio_region(memmap, true)?;
                let inner = self.inner.lock();
                // SAFETY: The region names Service VM MMIO/physical memory given by the DM
                // (upstream ABI), no page pinned by this driver.
                unsafe { mm::set_regions(inner.id()?, &regions) }
            }
            _ => Err(EINVAL),
        }
    }

    /// `ACRN_IOCTL_UNSET_MEMSEG`: MMIO only (RAM is unmapped when the VM is destroyed).
    pub(crate) fn unset_memseg(&self, memmap: &VmMemmap) -> Result {
        if memmap.r#type != crate::acrn::ACRN_MEMMAP_MMIO {
            return Err(EINVAL);
        }
        let regions = mm::mmio_region(memmap, false)?;
        let inner = self.inner.lock();
        // SAFETY: An `MR_DEL` maps nothing.
        unsafe { mm::set_regions(inner.id()?, &regions) }
    }

    /// `acrn_vm_ram_map`: a `VM_PFNMAP` range becomes one write-back region of its physical
    /// memory, nothing pinned ([`pfnmap`]); other memory is pinned (`len / PAGE_SIZE` pages at
    /// `vma_base`), mapped into the kernel and mapped into the guest in one batch.
    fn ram_map(&self, memmap: &VmMemmap) -> Result {
        let nr = usize::try_from(memmap.len / mm::PAGE_SIZE).map_err(|_| EINVAL)?;
        if nr == 0 {
            return Err(EINVAL);
        }
        if let Some(pa) = pfnmap::start(memmap, nr)? {
            let regions = mm::add_region(
                memmap.user_vm_pa,
                pa,
                memmap.len,
                hv::MEM_TYPE_WB,
                memmap.attr,
            )?;
            let inner = self.inner.lock();
            // SAFETY: The region names memory mapped with `remap_pfn_range` that is not
            // refcounted by the kernel (reserved or no `struct page`), as upstream.
            return unsafe { mm::set_regions(inner.id()?, &regions) };
        }
        let pages = PinnedPages::pin(memmap.vma_base(), nr)?;
        let regions = mm::ram_regions(memmap, &pages)?;
        let map = RamMapping::new(pages, memmap.user_vm_pa)?;
        let inner = self.inner.lock();
        let vmid = inner.id()?;
        // Recorded before the hypercall: the hypervisor applies a batch in order and keeps
        // the entries before a failing one, so even after a failure some pages may be mapped;
        // they stay pinned until the VM is destroyed.
        inner.io()?.ioreqs.ram().add(map)?;
        // SAFETY: The pages are pinned and owned by the VM's guest RAM table until the VM is
        // destroyed (and no kernel client holds a reference any more).
        unsafe { mm::set_regions(vmid, &regions) }
    }

    /// A hypercall that takes only the VM id (START/PAUSE/RESET/DESTROY).
    pub(crate) fn vm_op(&self, op: fn(u16) -> Result) -> Result {
        let inner = self.inner.lock();
        op(inner.id()?)
    }

    /// `ACRN_IOCTL_VM_INTR_MONITOR`: pins the page at user address `uaddr` (`EFAULT` if it can
    /// not be) and has the hypervisor write the VM's interrupt statistics there. The page
    /// named before is unpinned: the hypervisor switched to the new one during the call.
    pub(crate) fn intr_monitor(&self, uaddr: u64) -> Result {
        let page = PinnedPages::pin(uaddr, 1).map_err(|_| EFAULT)?;
        let mut inner = self.inner.lock();
        // SAFETY: The page stays pinned in `monitor_page` until another one replaces it or
        // the VM is destroyed.
        unsafe { hypercall::vm_intr_monitor(inner.id()?, page.phys(0)) }?;
        inner.monitor_page = Some(page);
        Ok(())
    }

    /// `ACRN_IOCTL_SET_VCPU_REGS` with checked `regs` in kmalloc memory.
    pub(crate) fn set_vcpu_regs(&self, regs: &crate::acrn::VcpuRegs) -> Result {
        let inner = self.inner.lock();
        hypercall::set_vcpu_regs(inner.id()?, regs)
    }
}

#[vtable]
impl MiscDevice for Vm {
    type Ptr = Pin<KBox<Vm>>;

    fn open() -> Result<Self::Ptr> {
        KBox::pin_init(
            pin_init!(Vm {
                inner <- new_mutex!(VmInner {
                    vmid: ACRN_INVALID_VMID,
                    io: None,
                    monitor_page: None,
                }),
            }),
            GFP_KERNEL,
        )
    }

    fn release(vm: Self::Ptr) {
        vm.inner.lock().release();
    }

    fn ioctl(vm: Pin<&Vm>, arg: IoctlArg) -> Result<isize> {
        ioctl::dispatch(&vm, arg)
    }
}
