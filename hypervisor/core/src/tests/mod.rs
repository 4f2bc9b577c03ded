// SPDX-License-Identifier: GPL-2.0

//! Host tests across modules, with fakes for what the arch backend provides: Service VM
//! memory ([`FakeMem`]), page-table frames ([`VecFrames`]) and the arch hooks
//! ([`FakeArch`], which keeps a real NPT per VM so mappings can be checked).

mod decode;
mod doc;
mod hypercall;
mod ioreq;
mod irq;
mod lifecycle;
mod npt;
mod page_walk;
mod regions;

use crate::arch::HvArch;
use crate::error::{HvResult, ENOMEM};
use crate::guest_mem::GuestMemory;
use crate::hv_err;
use crate::hypercall::{vmcall, HcArgs, HcCaller, HcOutcome};
use crate::memory::{E820Entry, Region, ServiceVmMemory, PAGE_SIZE};
use crate::npt::{FrameAllocator, NestedPageTable, NptFormat, PageSize, ENTRIES};
use crate::vm::{Vm, MAX_VMS, SERVICE_VM_ID};
use crate::vm_table::{VmTable, VmTableConfig};
use acrn_uapi::{acrn, hv};
use std::collections::BTreeMap;
use std::vec::Vec;

/// Hypervisor memory in the test machine: 16 MiB at 1 GiB.
pub const HV_BASE: u64 = 0x4000_0000;
/// Size of it.
pub const HV_SIZE: u64 = 0x100_0000;
/// Service VM RAM where tests put hypercall arguments.
pub const ARG: u64 = 0x20_0000;
/// Service VM RAM backing User VM memory in tests.
pub const BACKING: u64 = 0x1_0000_0000;

pub fn e820() -> [E820Entry; 4] {
    [
        E820Entry {
            addr: 0,
            size: 0x9_f000,
            kind: 1,
        },
        E820Entry {
            addr: 0x10_0000,
            size: 0x7ff0_0000,
            kind: 1,
        },
        E820Entry {
            addr: 0xfec0_0000,
            size: 0x1000,
            kind: 2,
        },
        E820Entry {
            addr: 0x1_0000_0000,
            size: 0x4000_0000,
            kind: 1,
        },
    ]
}

pub fn service_vm_memory() -> ServiceVmMemory {
    ServiceVmMemory::new(&e820(), HV_BASE, HV_SIZE, &[]).unwrap()
}

/// Sparse Service VM memory: only RAM of the Service VM map is accessible.
pub struct FakeMem {
    svc_mem: ServiceVmMemory,
    pages: BTreeMap<u64, Box<[u8; PAGE_SIZE as usize]>>,
}

impl FakeMem {
    pub fn new(svc_mem: ServiceVmMemory) -> Self {
        Self {
            svc_mem,
            pages: BTreeMap::new(),
        }
    }

    fn for_each_page(&self, gpa: u64, len: usize, mut f: impl FnMut(u64, usize, usize, usize)) {
        let mut done = 0;
        while done < len {
            let a = gpa + done as u64;
            let off = (a % PAGE_SIZE) as usize;
            let n = (PAGE_SIZE as usize - off).min(len - done);
            f(a - off as u64, off, done, n);
            done += n;
        }
    }
}

impl GuestMemory for FakeMem {
    fn read_bytes(&self, gpa: u64, buf: &mut [u8]) -> HvResult {
        self.svc_mem.check_access(gpa, buf.len() as u64)?;
        self.for_each_page(gpa, buf.len(), |page, off, at, n| {
            match self.pages.get(&page) {
                Some(p) => buf[at..at + n].copy_from_slice(&p[off..off + n]),
                None => buf[at..at + n].fill(0),
            }
        });
        Ok(())
    }

    fn write_bytes(&mut self, gpa: u64, buf: &[u8]) -> HvResult {
        self.svc_mem.check_access(gpa, buf.len() as u64)?;
        let mut chunks = Vec::new();
        self.for_each_page(gpa, buf.len(), |page, off, at, n| {
            chunks.push((page, off, at, n))
        });
        for (page, off, at, n) in chunks {
            let p = self
                .pages
                .entry(page)
                .or_insert_with(|| Box::new([0; PAGE_SIZE as usize]));
            p[off..off + n].copy_from_slice(&buf[at..at + n]);
        }
        Ok(())
    }
}

/// Page-table frames in a `Vec`, at fake physical addresses from `0x7000_0000_0000`.
pub struct VecFrames {
    frames: Vec<Box<[u64; ENTRIES]>>,
    free: Vec<usize>,
    pub in_use: usize,
    pub limit: usize,
}

const FRAME_BASE: u64 = 0x7000_0000_0000;

impl VecFrames {
    pub fn new(limit: usize) -> Self {
        Self {
            frames: Vec::new(),
            free: Vec::new(),
            in_use: 0,
            limit,
        }
    }

    fn idx(pa: u64) -> usize {
        assert!(
            pa >= FRAME_BASE && pa.is_multiple_of(PAGE_SIZE),
            "bad frame {pa:#x}"
        );
        ((pa - FRAME_BASE) / PAGE_SIZE) as usize
    }
}

impl FrameAllocator for VecFrames {
    fn alloc_zeroed(&mut self) -> Option<u64> {
        if self.in_use == self.limit {
            return None;
        }
        self.in_use += 1;
        let i = match self.free.pop() {
            Some(i) => {
                self.frames[i].fill(0);
                i
            }
            None => {
                self.frames.push(Box::new([0; ENTRIES]));
                self.frames.len() - 1
            }
        };
        Some(FRAME_BASE + i as u64 * PAGE_SIZE)
    }

    fn free(&mut self, pa: u64) {
        let i = Self::idx(pa);
        assert!(!self.free.contains(&i), "double free of {pa:#x}");
        self.free.push(i);
        self.in_use -= 1;
    }

    fn table(&self, pa: u64) -> &[u64; ENTRIES] {
        &self.frames[Self::idx(pa)]
    }

    fn table_mut(&mut self, pa: u64) -> &mut [u64; ENTRIES] {
        &mut self.frames[Self::idx(pa)]
    }
}

/// Arch hooks backed by real NPTs, recording lifecycle events.
pub struct FakeArch {
    pub frames: VecFrames,
    pub npts: [Option<NestedPageTable<NptFormat>>; MAX_VMS],
    pub events: Vec<String>,
    pub fail_create: bool,
}

impl FakeArch {
    pub fn new() -> Self {
        Self {
            frames: VecFrames::new(4096),
            npts: [const { None }; MAX_VMS],
            events: Vec::new(),
            fail_create: false,
        }
    }

    pub fn translate(&self, vmid: u16, gpa: u64) -> Option<u64> {
        let npt = self.npts[usize::from(vmid)].as_ref()?;
        npt.translate(&self.frames, gpa).map(|t| t.hpa)
    }
}

impl HvArch for FakeArch {
    fn vm_created(&mut self, vm: &Vm) -> HvResult {
        if self.fail_create {
            return Err(hv_err!(ENOMEM));
        }
        let npt = NestedPageTable::new(&mut self.frames)?;
        assert!(self.npts[usize::from(vm.id)].replace(npt).is_none());
        self.events.push(format!("created {}", vm.id));
        Ok(())
    }

    fn map(&mut self, vmid: u16, r: &Region) -> HvResult {
        let npt = self.npts[usize::from(vmid)].as_mut().expect("no NPT");
        npt.map(
            &mut self.frames,
            r.gpa,
            r.hpa,
            r.size,
            r.attr,
            PageSize::Size1G,
        )
    }

    fn unmap(&mut self, vmid: u16, gpa: u64, size: u64) -> HvResult {
        let npt = self.npts[usize::from(vmid)].as_mut().expect("no NPT");
        npt.unmap(&mut self.frames, gpa, size)
    }

    fn vm_destroyed(&mut self, vm: &Vm) {
        let npt = self.npts[usize::from(vm.id)].take().expect("no NPT");
        npt.destroy(&mut self.frames);
        self.events.push(format!("destroyed {}", vm.id));
    }

    fn vm_started(&mut self, vm: &Vm) {
        self.events.push(format!("started {}", vm.id));
    }

    fn vm_paused(&mut self, vm: &Vm) {
        self.events.push(format!("paused {}", vm.id));
    }

    fn vm_reset(&mut self, vm: &Vm) {
        self.events.push(format!("reset {}", vm.id));
    }

    fn offline_service_vcpu(&mut self, vcpu_id: u16, pcpu: u16) {
        self.events.push(format!("offline {vcpu_id} {pcpu}"));
    }

    fn ioreq_finished(&mut self, vm: &Vm, vcpu_id: u16) {
        self.events.push(format!("finished {} {vcpu_id}", vm.id));
    }

    fn deliver_interrupt(&mut self, vm: &Vm, vcpu_id: u16, vector: u8) {
        self.events
            .push(format!("irq {} {vcpu_id} {vector:#x}", vm.id));
    }
}

/// A machine: 4 pCPUs, Service VM on 0-1, pCPUs 2-3 reserved for User VMs.
pub struct Env {
    pub vms: Box<VmTable>,
    pub mem: FakeMem,
    pub arch: FakeArch,
}

impl Env {
    pub fn new() -> Self {
        let cfg = VmTableConfig::new(4, 0b0011, 0b1100);
        Self {
            vms: Box::new(VmTable::new(cfg, service_vm_memory()).unwrap()),
            mem: FakeMem::new(service_vm_memory()),
            arch: FakeArch::new(),
        }
    }

    /// `vmcall` from `vmid` at `cpl`.
    pub fn vmcall_from(
        &mut self,
        vmid: u16,
        cpl: u8,
        id: u64,
        param1: u64,
        param2: u64,
    ) -> HcOutcome {
        let caller = HcCaller { vmid, cpl };
        let args = HcArgs { id, param1, param2 };
        vmcall(&mut self.vms, &mut self.mem, &mut self.arch, caller, args)
    }

    /// RAX of a Service VM ring-0 hypercall.
    pub fn hc(&mut self, id: u64, param1: u64, param2: u64) -> i64 {
        match self.vmcall_from(SERVICE_VM_ID, 0, id, param1, param2) {
            HcOutcome::Return(r) => r,
            o => panic!("unexpected {o:?}"),
        }
    }

    /// CREATE_VM through the hypercall; returns RAX and the struct written back.
    pub fn create(
        &mut self,
        name: &str,
        vm_flag: u64,
        cpu_affinity: u64,
    ) -> (i64, acrn::VmCreation) {
        let mut cv = acrn::VmCreation {
            vm_flag,
            cpu_affinity,
            ..Default::default()
        };
        cv.uuid[..name.len()].copy_from_slice(name.as_bytes());
        self.mem.write_obj(ARG, &cv).unwrap();
        let r = self.hc(hv::HC_CREATE_VM, ARG, 0);
        (r, self.mem.read_obj(ARG).unwrap())
    }

    /// CREATE_VM that must succeed; returns the vmid.
    pub fn create_ok(&mut self, name: &str) -> u16 {
        let (r, cv) = self.create(name, 0, 0);
        assert_eq!(r, 0);
        assert_ne!(cv.vmid, hv::ACRN_INVALID_VMID);
        cv.vmid
    }

    /// SET_IOREQ_BUFFER with the page at `page`.
    pub fn set_ioreq(&mut self, vmid: u16, page: u64) -> i64 {
        self.mem.write_obj(ARG + 0x800, &page).unwrap();
        self.hc(hv::HC_SET_IOREQ_BUFFER, vmid.into(), ARG + 0x800)
    }

    /// VM_SET_MEMORY_REGIONS with `regions` for `vmid`.
    pub fn set_regions(&mut self, vmid: u16, regions: &[hv::VmMemoryRegion]) -> i64 {
        let list = ARG + 0x1000;
        for (i, r) in regions.iter().enumerate() {
            self.mem.write_obj(list + 32 * i as u64, r).unwrap();
        }
        let hdr = [u64::from(vmid), regions.len() as u64, list];
        for (i, w) in hdr.iter().enumerate() {
            self.mem.write_obj(ARG + 0xc00 + 8 * i as u64, w).unwrap();
        }
        self.hc(hv::HC_VM_SET_MEMORY_REGIONS, ARG + 0xc00, 0)
    }
}

/// An MR_ADD of RAM, read/write/exec, write-back.
pub fn add(gpa: u64, service_vm_gpa: u64, size: u64) -> hv::VmMemoryRegion {
    hv::VmMemoryRegion {
        r#type: hv::MR_ADD,
        prot: hv::MEM_ACCESS_RWX | hv::MEM_TYPE_WB,
        gpa,
        service_vm_gpa,
        size,
    }
}

/// An MR_DEL.
pub fn del(gpa: u64, size: u64) -> hv::VmMemoryRegion {
    hv::VmMemoryRegion {
        r#type: hv::MR_DEL,
        prot: 0,
        gpa,
        service_vm_gpa: 0,
        size,
    }
}
