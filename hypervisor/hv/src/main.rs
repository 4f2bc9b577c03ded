// SPDX-License-Identifier: GPL-2.0

//! `acrn-hv.elf`: the acrn-rs hypervisor, booted by a multiboot1 loader
//! (`qemu-system-x86_64 -kernel acrn-hv.elf -initrd "bzImage args,initramfs"`).
//!
//! Boot flow ([`hv_entry64`], on pCPU 0):
//! 1. COM1 log, exception handlers, multiboot information (memory map, modules);
//! 2. the backend by CPUID ([`Backend::select`]): AMD SVM continues; Intel VMX is a
//!    skeleton that logs its capabilities and parks ([`vmx::skeleton`]);
//!    host setup: PAT = [`HOST_PAT`], XSAVE with every supported XCR0 component, SVM on;
//! 3. TSC calibration; the Service VM's memory map (firmware map minus
//!    `[__hv_start, __hv_end)`) and the VM table;
//! 4. pCPUs other than pCPU 0 are reserved for User VMs and hidden in the MADT;
//! 5. the Service VM's identity nested page table; its kernel, zero page and boot block;
//! 6. VMCB and the exit loop: every exit is handled by `acrn_hv_svm::exit::handle_exit`;
//!    one that cannot be handled parks pCPU 0 after a register dump.
//!
//! The reserved pCPUs are started by the hypervisor before the Service VM (INIT/SIPI,
//! [`user_vcpu::start_aps`]) and wait there for User VM vCPUs.

#![no_std]
#![no_main]

mod arch;
mod frames;
mod guest_mem;
mod heap;
mod host;
mod service_vm;
mod sync;
mod trap;
mod tsc;
mod user_vcpu;
mod vmx;

use acrn_hv_boot::entry::{image_range, MULTIBOOT_BOOTLOADER_MAGIC};
use acrn_hv_boot::multiboot::{self, BootInfo, EMPTY_BOOT_INFO};
use acrn_hv_boot::phys::IdentityMap;
use acrn_hv_boot::x86::{
    cpuid, halt_forever, read_cr4, write_cr4, wrmsr, xsetbv0, CR4_OSXSAVE, MSR_PAT,
};
use acrn_hv_boot::{acpi, error, info, log, warn};
use acrn_hv_core::arch::Backend;
use acrn_hv_core::memory::ServiceVmMemory;
use acrn_hv_core::npt::{map_service_vm, NestedPageTable, NptFormat, PageSize, HOST_PAT};
use acrn_hv_core::vm_table::{VmTable, VmTableConfig};
use acrn_hv_svm::exit::{handle_exit, Park};
use acrn_hv_svm::perm::{Iopm, Msrpm};
use acrn_hv_svm::vcpu::{init_vmcb, Vcpu, VmcbConfig};
use acrn_hv_svm::vmcb::Vmcb;
use frames::{Frames, Pool};
use sync::{SpinLock, TakeOnce};

static BOOT_INFO: TakeOnce<BootInfo> = TakeOnce::new(EMPTY_BOOT_INFO);
static FRAME_POOL: TakeOnce<Pool> = TakeOnce::new(Pool::ZERO);
static SERVICE_VM_MEMORY: TakeOnce<ServiceVmMemory> = TakeOnce::new(ServiceVmMemory::empty());
pub(crate) static VMS: SpinLock<VmTable> = SpinLock::new(VmTable::empty());
static VMCB: TakeOnce<Vmcb> = TakeOnce::new(Vmcb::ZERO);
static HSAVE: TakeOnce<Page> = TakeOnce::new(Page([0; 4096]));
static IOPM: TakeOnce<Iopm> = TakeOnce::new(Iopm::PASS_THROUGH);
static MSRPM: TakeOnce<Msrpm> = TakeOnce::new(Msrpm::PASS_THROUGH);

#[repr(C, align(4096))]
struct Page([u8; 4096]);

/// The ASID of the Service VM.
const SERVICE_VM_ASID: u32 = 1;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    error!("hypervisor panic: {info}");
    halt_forever()
}

/// Stops boot with a message.
fn fail(what: &str, detail: core::fmt::Arguments<'_>) -> ! {
    error!("boot failed: {what}: {detail}");
    halt_forever()
}

/// Enables XSAVE on the host with every XCR0 component the CPU supports; returns that XCR0.
fn setup_xsave() -> Option<u64> {
    if cpuid(1, 0).ecx & (1 << 26) == 0 {
        return None;
    }
    let d = cpuid(0xd, 0);
    let xcr0 = (u64::from(d.edx) << 32) | u64::from(d.eax);
    // SAFETY: the CPU has XSAVE; setting CR4.OSXSAVE only enables XGETBV/XSETBV, and the
    // supported-components mask is a valid XCR0.
    unsafe {
        write_cr4(read_cr4() | CR4_OSXSAVE);
        xsetbv0(xcr0);
    }
    Some(xcr0)
}

/// Called by the boot trampoline in long mode.
#[no_mangle]
pub extern "C" fn hv_entry64(magic: u32, mbi: u32) -> ! {
    log::init();
    trap::init();
    info!("acrn-rs hypervisor {}", env!("CARGO_PKG_VERSION"));
    let heap = heap::warm_up();
    info!("instruction decoder ready, {heap} bytes of heap");
    if magic != MULTIBOOT_BOOTLOADER_MAGIC {
        fail(
            "not booted by a multiboot loader",
            format_args!("magic {magic:#x}"),
        );
    }
    // SAFETY: the trampoline identity-maps [0, 4 GiB); boot code reads loader data and
    // firmware tables and writes the Service VM's boot structures and the MADT, none of
    // which are Rust objects.
    let mut phys = unsafe { IdentityMap::new() };
    let Some(boot) = BOOT_INFO.take() else {
        halt_forever()
    };
    if let Err(e) = multiboot::parse(&phys, u64::from(mbi), boot) {
        fail("multiboot information", format_args!("{e:?}"));
    }
    if let Some(l) = boot.cmdline.value("loglevel").and_then(|v| v.first()) {
        log::set_level(l.wrapping_sub(b'0'));
    }
    let (hv_start, hv_end) = image_range();
    info!(
        "hypervisor memory {hv_start:#x}-{hv_end:#x}, command line '{}'",
        boot.cmdline.as_str()
    );

    let ext1_ecx = if cpuid(0x8000_0000, 0).eax >= 0x8000_0001 {
        cpuid(0x8000_0001, 0).ecx
    } else {
        0
    };
    match Backend::select(cpuid(1, 0).ecx, ext1_ecx) {
        Some(Backend::Svm) => info!("backend: AMD SVM"),
        Some(Backend::Vmx) => {
            info!("backend: Intel VMX");
            vmx::skeleton()
        }
        None => fail("no SVM or VMX", format_args!("CPUID")),
    }

    // Host CPU state.
    // SAFETY: the host page tables use PAT index 0 only, which HOST_PAT keeps write-back.
    unsafe { wrmsr(MSR_PAT, HOST_PAT) };
    let host_xcr0 = setup_xsave();
    let caps = match acrn_hv_svm::svm::caps() {
        Ok(c) => c,
        Err(e) => fail("SVM", format_args!("{e:?}")),
    };
    info!(
        "SVM rev {} asids {} npt {} nrips {} decode-assists {} vgif {} 1G {}; xcr0 {:#x}",
        caps.revision,
        caps.nasid,
        caps.npt,
        caps.nrips,
        caps.decode_assists,
        caps.vgif,
        caps.page_1g,
        host_xcr0.unwrap_or(0)
    );
    let Some(hsave) = HSAVE.take() else {
        halt_forever()
    };
    // SAFETY: the page is hypervisor memory dedicated to this CPU's host save area.
    if let Err(e) = unsafe { acrn_hv_svm::svm::enable(hsave.0.as_ptr() as u64) } {
        fail("SVM enable", format_args!("{e:?}"));
    }
    let tsc_khz = tsc::calibrate_khz();
    info!("TSC {} kHz", tsc_khz);

    // Memory and VMs.
    let Some(svc) = SERVICE_VM_MEMORY.take() else {
        halt_forever()
    };
    *svc = match ServiceVmMemory::new(boot.mmap(), hv_start, hv_end - hv_start, &[]) {
        Ok(m) => m,
        Err(e) => fail("Service VM memory map", format_args!("{e:?}")),
    };
    let bsp_apic = cpuid(1, 0).ebx >> 24;
    let ap_ids = core::cell::Cell::new(([0u32; user_vcpu::MAX_PCPUS], 0usize));
    let hidden = match acpi::hide_cpus(&mut phys, |id| {
        let (mut ids, n) = ap_ids.get();
        if id != bsp_apic && n < ids.len() && !ids[..n].contains(&id) {
            ids[n] = id;
            ap_ids.set((ids, n + 1));
        }
        id == bsp_apic
    }) {
        Ok(n) => n,
        Err(e) => {
            warn!("MADT not edited ({e:?}): the Service VM may see every CPU");
            0
        }
    };
    let num_pcpus = (1 + hidden).min(64) as u16;
    let user_pcpus = if num_pcpus >= 64 {
        !1
    } else {
        ((1u64 << num_pcpus) - 1) & !1
    };
    info!("{num_pcpus} pCPUs: pCPU 0 runs the Service VM, {hidden} reserved for User VMs (hidden in the MADT)");
    if let Err(e) = VMS
        .lock()
        .init(VmTableConfig::new(num_pcpus, 1, user_pcpus), svc.clone())
    {
        fail("VM table", format_args!("{e:?}"));
    }

    let (ids, n_ids) = ap_ids.get();
    let up = user_vcpu::start_aps(&ids[..n_ids], svc, tsc_khz, host_xcr0);
    info!("{up} reserved pCPUs run User VM vCPUs");

    let Some(pool) = FRAME_POOL.take() else {
        halt_forever()
    };
    let mut frames = Frames::new(pool);
    let max_page = if caps.page_1g {
        PageSize::Size1G
    } else {
        PageSize::Size2M
    };
    let npt = match NestedPageTable::<NptFormat>::new(&mut frames)
        .and_then(|mut n| map_service_vm(&mut n, &mut frames, svc, max_page).map(|()| n))
    {
        Ok(n) => n,
        Err(e) => fail("Service VM nested page table", format_args!("{e:?}")),
    };
    info!(
        "Service VM nested page table at {:#x}: {} frames, top {:#x}",
        npt.root(),
        frames.in_use(),
        svc.top()
    );

    // SAFETY: `phys` reaches physical memory, `boot` comes from the loader, and the
    // hypervisor range is this image.
    let entry = match unsafe { service_vm::load(&mut phys, boot, svc, (hv_start, hv_end), 1) } {
        Ok(e) => e,
        Err(e) => fail("Service VM kernel", format_args!("{e:?}")),
    };

    let (Some(vmcb), Some(iopm), Some(msrpm)) = (VMCB.take(), IOPM.take(), MSRPM.take()) else {
        halt_forever()
    };
    *msrpm = Msrpm::service_vm();
    let cfg = VmcbConfig {
        asid: SERVICE_VM_ASID,
        n_cr3: npt.root(),
        iopm_pa: iopm.0.as_ptr() as u64,
        msrpm_pa: msrpm.0.as_ptr() as u64,
    };
    init_vmcb(vmcb, &cfg, &entry);
    let mut vcpu = Vcpu::new(vmcb, 0, host_xcr0);
    vcpu.regs.rsi = entry.rsi;
    let mut host = host::Host {
        vms: &VMS,
        mem: guest_mem::ServiceVmRam::new(svc),
        arch: arch::SvmArch::new(frames, max_page),
        tsc_khz,
        host_xcr0,
        hv_range: (hv_start, hv_end),
    };
    // The Service VM's table lives as long as the machine: `npt` is never destroyed.
    let _ = npt;
    info!("starting the Service VM at {:#x}", entry.rip);
    loop {
        vcpu.enter();
        if let Err(why) = handle_exit(&mut vcpu, &mut host) {
            park(&vcpu, why);
        }
    }
}

fn park(vcpu: &Vcpu, why: Park) -> ! {
    match why {
        Park::InvalidVmcb => error!("VMRUN failed (VMEXIT_INVALID): VMCB state follows"),
        Park::Shutdown => error!("vm{} shut down (triple fault)", vcpu.vmid),
        Park::NestedPageFault => error!(
            "vm{} nested page fault at gpa {:#x} (error {:#x}): not Service VM memory",
            vcpu.vmid, vcpu.vmcb.control.exit_info2, vcpu.vmcb.control.exit_info1
        ),
        Park::Unhandled(code) => error!("vm{}: unhandled exit {:#x}", vcpu.vmid, code),
    }
    vcpu.dump();
    error!("pCPU parked");
    halt_forever()
}
