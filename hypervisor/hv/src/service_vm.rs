// SPDX-License-Identifier: GPL-2.0

//! Loading the Service VM kernel (Linux boot protocol, 64-bit entry) from the multiboot
//! modules: module 0 = bzImage with the kernel command line as its arguments, module 1 =
//! initramfs (optional).
//!
//! ```text
//!  0x8_0000  zero page | 0x8_1000 cmdline | 0x8_2000 GDT | 0x8_3000 page tables (6 pages)
//!  pref_address (16 MiB) .. + init_size   protected-mode kernel, decompressed in place
//!  HV_BASE (256 MiB) .. __hv_end          hypervisor (reserved in e820, absent from NPT)
//!  after __hv_end                         multiboot modules: bzImage (copied away), initramfs
//! ```

use acrn_hv_boot::e820::service_vm_e820;
use acrn_hv_boot::linux::{
    boot_page_tables, build_zero_page, parse_bzimage, service_vm_cmdline, BootLayout, LinuxError,
    BOOT_CS, BOOT_DS, BOOT_GDT, E820_MAX, ENTRY_64,
};
use acrn_hv_boot::multiboot::BootInfo;
use acrn_hv_boot::phys::{PhysMem, IDENTITY_LIMIT};
use acrn_hv_boot::{info, warn};
use acrn_hv_core::memory::{E820Entry, ServiceVmMemory};
use acrn_hv_svm::vcpu::LongModeEntry;

/// Why the Service VM cannot be started (logged with `{:?}`).
#[derive(Debug)]
#[allow(dead_code)]
pub enum LoadError {
    /// No kernel module.
    NoKernel,
    /// The kernel image is unusable.
    Kernel(LinuxError),
    /// A range the kernel needs is not Service VM RAM, overlaps something, or lies above
    /// the hypervisor's identity map.
    Placement(&'static str, u64, u64),
    /// Writing the boot structures failed.
    Write,
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Prepares the Service VM's memory and returns its entry state.
///
/// # Safety
///
/// `mem` must reach physical memory; the modules and the firmware memory map in `boot` must
/// describe this machine; `hv` must be the hypervisor's memory. The kernel image is copied to
/// its load address and the boot block is written: both must be free RAM (checked against
/// `svc`, which excludes hypervisor memory). The kernel may bring up `nr_cpus` CPUs.
pub unsafe fn load(
    mem: &mut impl PhysMem,
    boot: &BootInfo,
    svc: &ServiceVmMemory,
    hv: (u64, u64),
    nr_cpus: u32,
) -> Result<LongModeEntry, LoadError> {
    let kmod = *boot.modules().first().ok_or(LoadError::NoKernel)?;
    let klen = kmod.end.saturating_sub(kmod.start);
    if kmod.end > IDENTITY_LIMIT || klen == 0 {
        return Err(LoadError::Placement("kernel module", kmod.start, kmod.end));
    }
    // SAFETY: the module is loader-provided memory below 4 GiB (identity mapped) that
    // nothing else references while the slice lives (until the copy below).
    let img = unsafe { core::slice::from_raw_parts(kmod.start as *const u8, klen as usize) };
    let k = parse_bzimage(img).map_err(LoadError::Kernel)?;
    info!(
        "Service VM kernel: boot protocol {:#x}, {} KiB, load at {:#x}, init_size {:#x}{}",
        k.version,
        k.pm_size / 1024,
        k.pref_address,
        k.init_size,
        if k.relocatable { ", relocatable" } else { "" }
    );

    let initrd = boot
        .modules()
        .get(1)
        .map(|m| (m.start, m.end.saturating_sub(m.start)));
    let kernel_area = (
        k.pref_address,
        k.pref_address + k.init_size.max(k.pm_size as u64),
    );
    if !svc.is_ram(kernel_area.0, kernel_area.1 - kernel_area.0) || overlaps(kernel_area, hv) {
        return Err(LoadError::Placement("kernel", kernel_area.0, kernel_area.1));
    }
    if let Some((start, size)) = initrd {
        let r = (start, start + size);
        if overlaps(r, kernel_area) || !svc.is_ram(start, size) || r.1 > k.initrd_addr_max + 1 {
            return Err(LoadError::Placement("initramfs", r.0, r.1));
        }
        info!("initramfs at {:#x}, {} KiB", start, size / 1024);
    }
    let lay = BootLayout::LOW;
    if !svc.is_ram(lay.zero_page, lay.end() - lay.zero_page) {
        return Err(LoadError::Placement("boot block", lay.zero_page, lay.end()));
    }

    // Linux e820: firmware map minus hypervisor memory.
    let mut e820 = [E820Entry::default(); E820_MAX];
    let n = service_vm_e820(boot.mmap(), &[hv], &mut e820);
    for e in &e820[..n] {
        info!(
            "  e820 {:#012x}-{:#012x} type {}",
            e.addr,
            e.addr + e.size,
            e.kind
        );
    }

    // Command line (truncated to what the kernel accepts).
    let mut line = [0u8; 4095];
    let max = (k.cmdline_size as usize).clamp(1, line.len());
    let given = boot.modules()[0].cmdline.args();
    let len = service_vm_cmdline(given, nr_cpus, &mut line[..max]);
    if len < given.len() + " nr_cpus=1".len() {
        warn!("Service VM command line truncated to {max} bytes");
    }
    let args = &line[..len];
    info!(
        "Service VM command line: {}",
        core::str::from_utf8(args).unwrap_or("?")
    );

    let mut zp = [0u8; 4096];
    build_zero_page(&mut zp, img, &k, lay.cmdline, initrd, &e820[..n]);
    let mut gdt = [0u8; 32];
    for (i, d) in BOOT_GDT.iter().enumerate() {
        gdt[8 * i..8 * i + 8].copy_from_slice(&d.to_le_bytes());
    }
    let ok = mem.write(lay.zero_page, &zp)
        && mem.write(lay.cmdline, args)
        && mem.write(lay.cmdline + args.len() as u64, &[0])
        && mem.write(lay.gdt, &gdt)
        && boot_page_tables(lay.page_tables).all(|(pa, v)| mem.write(pa, &v.to_le_bytes()));
    if !ok {
        return Err(LoadError::Write);
    }

    // The protected-mode kernel to its load address (memmove: the source may overlap).
    // SAFETY: source is the module, destination the kernel area checked above to be
    // Service VM RAM outside the hypervisor and the initramfs; `img` is not used after.
    unsafe {
        core::ptr::copy(
            (kmod.start + k.pm_offset as u64) as *const u8,
            k.pref_address as *mut u8,
            k.pm_size,
        );
    }
    Ok(LongModeEntry {
        rip: k.pref_address + ENTRY_64,
        rsi: lay.zero_page,
        cr3: lay.page_tables,
        gdt_base: lay.gdt,
        gdt_limit: 31,
        cs: BOOT_CS,
        ds: BOOT_DS,
    })
}
