// SPDX-License-Identifier: GPL-2.0

//! A User VM through `/dev/acrn_hsm` (the upstream ABI, `uapi/linux/acrn.h`): what ACRN's
//! `acrn-dm` does in `core/vmmapi.c`, for one VM per open file.
//!
//! Dropping a [`Vm`] tears it down in the order ACRN needs: pause (ACRN destroys paused VMs
//! only), destroy the I/O request client, destroy the VM, close the file.

use crate::sys::{self, Mmap};
use acrn_uapi::acrn::{
    self, IoRequest, IoreqNotify, Regs, VcpuRegs, VmCreation, VmMemmap, VmMemmapAddr,
    ACRN_IO_REQUEST_MAX,
};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;

/// The HSM's device node.
pub const HSM_DEV: &str = "/dev/acrn_hsm";
/// Size of the I/O request page.
const IOREQ_PAGE: usize = 4096;

pub struct Vm {
    file: File,
    vmid: u16,
    vcpu_num: u16,
    ioreq: Mmap,
    ram: Option<Mmap>,
    client: bool,
}

impl Vm {
    /// Opens the HSM and creates a VM named `name` (at most 15 bytes) with `flags`
    /// (`GUEST_FLAG_*`).
    pub fn create(name: &str, flags: u64) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(HSM_DEV)?;
        let ioreq = Mmap::anonymous(IOREQ_PAGE)?;
        let mut cv = VmCreation {
            vm_flag: flags,
            ioreq_buf: ioreq.as_ptr() as u64,
            ..Default::default()
        };
        let n = name.len().min(cv.uuid.len() - 1);
        cv.uuid[..n].copy_from_slice(&name.as_bytes()[..n]);
        sys::ioctl_ptr(file.as_raw_fd(), acrn::ACRN_IOCTL_CREATE_VM, &mut cv)?;
        Ok(Self {
            file,
            vmid: cv.vmid,
            vcpu_num: cv.vcpu_num,
            ioreq,
            ram: None,
            client: false,
        })
    }

    pub fn vmid(&self) -> u16 {
        self.vmid
    }

    /// vCPUs the hypervisor gave the VM (I/O request slots in use).
    pub fn vcpu_num(&self) -> usize {
        usize::from(self.vcpu_num).min(ACRN_IO_REQUEST_MAX)
    }

    /// `len` bytes of RAM at guest physical address 0.
    pub fn map_ram(&mut self, len: usize) -> io::Result<()> {
        let ram = Mmap::anonymous(len)?;
        let mut m = VmMemmap {
            r#type: acrn::ACRN_MEMMAP_RAM,
            attr: acrn::ACRN_MEM_ACCESS_RWX,
            user_vm_pa: 0,
            addr: VmMemmapAddr {
                vma_base: ram.as_ptr() as u64,
            },
            len: len as u64,
        };
        sys::ioctl_ptr(self.fd(), acrn::ACRN_IOCTL_SET_MEMSEG, &mut m)?;
        self.ram = Some(ram);
        Ok(())
    }

    /// The guest RAM, for loading the guest before it runs.
    pub fn ram_mut(&mut self) -> Option<&mut [u8]> {
        self.ram.as_mut().map(Mmap::as_mut_slice)
    }

    /// Registers of vCPU 0 (the BSP), before the VM starts.
    pub fn set_bsp_regs(&self, regs: &Regs) -> io::Result<()> {
        let mut v = VcpuRegs {
            vcpu_id: 0,
            vcpu_regs: *regs,
            ..Default::default()
        };
        sys::ioctl_ptr(self.fd(), acrn::ACRN_IOCTL_SET_VCPU_REGS, &mut v)
    }

    /// Becomes the VM's default I/O request client (requests no kernel client claims).
    pub fn create_ioreq_client(&mut self) -> io::Result<()> {
        sys::ioctl_val(self.fd(), acrn::ACRN_IOCTL_CREATE_IOREQ_CLIENT, 0)?;
        self.client = true;
        Ok(())
    }

    /// Waits until requests are PROCESSING for us (`ErrorKind::Interrupted` on a signal;
    /// `ENODEV` once the client is gone).
    pub fn attach(&self) -> io::Result<()> {
        sys::ioctl_val(self.fd(), acrn::ACRN_IOCTL_ATTACH_IOREQ_CLIENT, 0)
    }

    /// Slot `vcpu` of the shared I/O request page.
    pub fn slot(&self, vcpu: usize) -> *mut IoRequest {
        assert!(vcpu < ACRN_IO_REQUEST_MAX);
        // In bounds: the page holds ACRN_IO_REQUEST_MAX slots of 256 bytes.
        self.ioreq.as_ptr().cast::<IoRequest>().wrapping_add(vcpu)
    }

    /// Completes the request of `vcpu` (the hypervisor resumes it).
    pub fn notify_finish(&self, vcpu: usize) -> io::Result<()> {
        let mut n = IoreqNotify {
            vmid: self.vmid,
            vcpu: vcpu as u32,
            ..Default::default()
        };
        sys::ioctl_ptr(self.fd(), acrn::ACRN_IOCTL_NOTIFY_REQUEST_FINISH, &mut n)
    }

    pub fn start(&self) -> io::Result<()> {
        sys::ioctl_val(self.fd(), acrn::ACRN_IOCTL_START_VM, 0)
    }

    pub fn pause(&self) -> io::Result<()> {
        sys::ioctl_val(self.fd(), acrn::ACRN_IOCTL_PAUSE_VM, 0)
    }

    /// `INJECT_MSI`: an interrupt for the guest (address bits 19:12 = destination APIC id,
    /// data bits 7:0 = vector, fixed delivery).
    pub fn inject_msi(&self, addr: u64, data: u64) -> io::Result<()> {
        let mut m = acrn::MsiEntry {
            msi_addr: addr,
            msi_data: data,
        };
        sys::ioctl_ptr(self.fd(), acrn::ACRN_IOCTL_INJECT_MSI, &mut m)
    }

    fn fd(&self) -> i32 {
        self.file.as_raw_fd()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.pause();
        if self.client {
            let _ = sys::ioctl_val(self.fd(), acrn::ACRN_IOCTL_DESTROY_IOREQ_CLIENT, 0);
        }
        if let Err(e) = sys::ioctl_val(self.fd(), acrn::ACRN_IOCTL_DESTROY_VM, 0) {
            eprintln!("acrn-dm-rs: DESTROY_VM of VM {}: {}", self.vmid, e);
        }
    }
}
