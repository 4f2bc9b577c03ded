// SPDX-License-Identifier: GPL-2.0

//! User VM vCPUs on the pCPUs reserved for them (ACRN's vCPU threads, one per pCPU, no
//! scheduler): how the Service VM's pCPU hands a vCPU to a reserved pCPU, stops it, wakes
//! it, and how the reserved pCPU runs it and turns its I/O into IOREQs.
//!
//! Boot: [`start_aps`] starts every reserved pCPU with INIT/SIPI ([`acrn_hv_boot::ap`]); each
//! enters [`hv_ap_entry`]: IDT, PAT, XSAVE, SVM on (its own host save area), its xAPIC
//! software-enabled, then the idle loop: `STGI; STI; HLT; CLI; CLGI` until a kick IPI
//! ([`KICK_VECTOR`]) arrives, race-free because STI's shadow covers HLT.
//!
//! Control ([`PcpuCtl`], all atomics or a short spin lock, written by pCPU 0 under the VM
//! table lock): START_VM puts a [`Launch`] in the pCPU's slot and kicks it; PAUSE_VM sets
//! `stop`, kicks, and waits until the pCPU has left the vCPU (`running` back to 0); the
//! vCPU's VMCB intercepts physical interrupts, so the kick ends VMRUN even if the guest
//! loops with interrupts off. NOTIFY_REQUEST_FINISH, INJECT_MSI and SET_IRQLINE set
//! per-vCPU state ([`VcpuShared`]: IOREQ event, vLAPIC IRR) and kick.
//!
//! Running (on the reserved pCPU): VMCB from SET_VCPU_REGS ([`init_user_vmcb`]), then
//! VMRUN / [`handle_user_exit`] until a stop request or a fatal exit. An IOREQ goes into the
//! vCPU's slot of the VM's request page (Service VM RAM, atomics only: [`ioreq`]), the
//! upcall vector is sent as a fixed IPI to the Service VM's pCPU (its APIC is the Service
//! VM's, so Linux's `sysvec_acrn_hv_callback` runs and sends EOI itself), and the vCPU
//! waits: HLT until kicked by NOTIFY_REQUEST_FINISH, or spinning on the slot in polling mode.
//! MMIO decoding reads the guest's page tables through the VM's regions under the VM table
//! lock, taken with `try_lock` so that a stop request is never blocked by it.

use crate::guest_mem::ServiceVmRam;
use crate::sync::{SpinGuard, SpinLock, TakeOnce};
use crate::trap::{KICK_VECTOR, SPURIOUS_VECTOR};
use acrn_hv_boot::phys::IDENTITY_LIMIT;
use acrn_hv_boot::x86::{cpuid, rdtsc, wrmsr, xsetbv0, CpuidResult, MSR_PAT};
use acrn_hv_boot::{ap, debug, error, info, lapic, warn};
use acrn_hv_core::cpuid::CpuidCtx;
use acrn_hv_core::decode::{decode_at, MmioDecoded};
use acrn_hv_core::error::{HvResult, EINVAL};
use acrn_hv_core::guest_mem::GuestMemory;
use acrn_hv_core::hv_err;
use acrn_hv_core::ioreq::{
    emulate_io_complete, insert_request, wait_for_completion, IoReq, IoreqBuffer, IoreqEvent,
};
use acrn_hv_core::memory::{Region, ServiceVmMemory};
use acrn_hv_core::npt::HOST_PAT;
use acrn_hv_core::page_walk::{GuestPaging, GuestPhysMem, WalkFetch};
use acrn_hv_core::vioapic::IOAPIC_BASE;
use acrn_hv_core::vlapic::{self, Irr, LapicRegs};
use acrn_hv_core::vm::{MAX_VCPUS_PER_VM, MAX_VMS};
use acrn_hv_core::vm_table::VmTable;
use acrn_hv_svm::perm::{Iopm, Msrpm, IOPM_SIZE, MSRPM_SIZE};
use acrn_hv_svm::user_exit::{handle_user_exit, inject_pending, irq_waiting, Stop, UserVmHost};
use acrn_hv_svm::user_vmcb::init_user_vmcb;
use acrn_hv_svm::vcpu::{GuestRegs, Vcpu, VmcbConfig};
use acrn_hv_svm::vmcb::Vmcb;
use acrn_uapi::acrn::Regs;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};

/// pCPUs this hypervisor can drive (pCPU 0 included).
pub const MAX_PCPUS: usize = 8;
const AP_STACK_SIZE: usize = 0x1_0000;

/// What pCPU 0 hands a reserved pCPU at START_VM.
#[derive(Clone, Copy, Debug)]
pub struct Launch {
    /// VM id.
    pub vmid: u16,
    /// vCPU id (its IOREQ slot).
    pub vcpu_id: u16,
    /// The vCPU's local APIC id.
    pub lapic_id: u32,
    /// Nested page table root.
    pub n_cr3: u64,
    /// SET_VCPU_REGS registers, or the power-on state.
    pub regs: Option<Regs>,
    /// Service VM physical address of the VM's I/O request page.
    pub ioreq_page: Option<u64>,
    /// GUEST_FLAG_IO_COMPLETION_POLLING.
    pub polling: bool,
}

/// Control block of one pCPU.
pub struct PcpuCtl {
    alive: AtomicBool,
    apic_id: AtomicU32,
    launch: SpinLock<Option<Launch>>,
    /// `vmid + 1` of the vCPU this pCPU runs or is about to run, 0 when idle.
    running: AtomicU32,
    stop: AtomicBool,
}

impl PcpuCtl {
    const fn new() -> Self {
        Self {
            alive: AtomicBool::new(false),
            apic_id: AtomicU32::new(0),
            launch: SpinLock::new(None),
            running: AtomicU32::new(0),
            stop: AtomicBool::new(false),
        }
    }
}

/// Per-vCPU state both sides touch.
pub struct VcpuShared {
    /// VCPU_EVENT_IOREQ.
    pub event: IoreqEvent,
    /// Pending vectors.
    pub irr: Irr,
}

impl VcpuShared {
    const fn new() -> Self {
        Self {
            event: IoreqEvent::new(),
            irr: Irr::new(),
        }
    }
}

static PCPUS: [PcpuCtl; MAX_PCPUS] = [const { PcpuCtl::new() }; MAX_PCPUS];
static VCPUS: [[VcpuShared; MAX_VCPUS_PER_VM]; MAX_VMS] =
    [const { [const { VcpuShared::new() }; MAX_VCPUS_PER_VM] }; MAX_VMS];
/// The Service VM's upcall vector (HC_SET_CALLBACK_VECTOR; 0xF3 by default).
pub static UPCALL_VECTOR: AtomicU8 = AtomicU8::new(0xf3);
static SERVICE_APIC_ID: AtomicU32 = AtomicU32::new(0);
static TSC_KHZ: AtomicU64 = AtomicU64::new(1_000_000);

#[repr(C, align(16))]
struct Stack([u8; AP_STACK_SIZE]);
#[repr(C, align(4096))]
struct Page([u8; 4096]);

static AP_STACKS: [TakeOnce<Stack>; MAX_PCPUS] =
    [const { TakeOnce::new(Stack([0; AP_STACK_SIZE])) }; MAX_PCPUS];
static AP_HSAVE: [TakeOnce<Page>; MAX_PCPUS] =
    [const { TakeOnce::new(Page([0; 4096])) }; MAX_PCPUS];
static AP_VMCB: [TakeOnce<Vmcb>; MAX_PCPUS] = [const { TakeOnce::new(Vmcb::ZERO) }; MAX_PCPUS];
static USER_IOPM: TakeOnce<Iopm> = TakeOnce::new(Iopm([0xff; IOPM_SIZE]));
static USER_MSRPM: TakeOnce<Msrpm> = TakeOnce::new(Msrpm([0xff; MSRPM_SIZE]));
static USER_PERM: SpinLock<(u64, u64)> = SpinLock::new((0, 0));
static SVC_MAP: SpinLock<Option<&'static ServiceVmMemory>> = SpinLock::new(None);
static HOST_XCR0: AtomicU64 = AtomicU64::new(0);

fn delay_us(us: u64) {
    let end = rdtsc() + us * TSC_KHZ.load(Ordering::Relaxed) / 1000;
    while rdtsc() < end {
        core::hint::spin_loop();
    }
}

/// Starts the reserved pCPUs (APIC ids `apic_ids`; pCPU n = `apic_ids[n - 1]`). Called by
/// the boot CPU before the Service VM exists (the trampoline page is free then). Returns
/// how many reported in.
pub fn start_aps(
    apic_ids: &[u32],
    svc: &'static ServiceVmMemory,
    tsc_khz: u32,
    host_xcr0: Option<u64>,
) -> usize {
    TSC_KHZ.store(u64::from(tsc_khz), Ordering::Relaxed);
    SERVICE_APIC_ID.store(lapic::current_id(), Ordering::Relaxed);
    *SVC_MAP.lock() = Some(svc);
    HOST_XCR0.store(host_xcr0.map_or(0, |x| x), Ordering::Relaxed);
    if let (Some(i), Some(m)) = (USER_IOPM.take(), USER_MSRPM.take()) {
        *USER_PERM.lock() = (i.0.as_ptr() as u64, m.0.as_ptr() as u64);
    }
    let cr3: u64;
    // SAFETY: reading CR3 has no side effect.
    unsafe { core::arch::asm!("mov {}, cr3", out(reg) cr3, options(nomem, nostack)) };
    let mut up = 0;
    for (i, &apic) in apic_ids.iter().enumerate().take(MAX_PCPUS - 1) {
        let cpu = i + 1;
        let Some(stack) = AP_STACKS[cpu].take() else {
            continue;
        };
        PCPUS[cpu].apic_id.store(apic, Ordering::Relaxed);
        let params = ap::ApParams {
            cr3,
            stack: stack.0.as_ptr() as u64 + AP_STACK_SIZE as u64,
            entry: hv_ap_entry as *const () as u64,
            cpu: cpu as u64,
        };
        // SAFETY: the Service VM does not exist yet, so the trampoline page is free; the
        // stack is this pCPU's, CR3 is the boot CPU's identity map, the entry never returns.
        unsafe { ap::start(apic, &params, delay_us) };
        let t0 = rdtsc();
        while !PCPUS[cpu].alive.load(Ordering::Acquire) && rdtsc() - t0 < 100 * u64::from(tsc_khz) {
            core::hint::spin_loop();
        }
        if PCPUS[cpu].alive.load(Ordering::Acquire) {
            info!("pCPU {cpu} (APIC id {apic}) started, waiting for User VM vCPUs");
            up += 1;
        } else {
            error!("pCPU {cpu} (APIC id {apic}) did not start");
        }
    }
    up
}

/// Sends the kick IPI to `pcpu` (from pCPU 0: its APIC is the Service VM's).
pub fn kick(pcpu: u16) {
    if let Some(c) = PCPUS.get(usize::from(pcpu)) {
        if c.alive.load(Ordering::Acquire) {
            // SAFETY: the xAPIC is identity-mapped; the Service VM is not running on this
            // pCPU while the hypervisor handles its exit, and `send_ipi` restores ICR_HI.
            unsafe {
                lapic::send_ipi(c.apic_id.load(Ordering::Relaxed), lapic::fixed(KICK_VECTOR))
            };
        }
    }
}

/// START_VM: hands `l` to `pcpu`. Refused (logged) if the pCPU is not running or already
/// runs a vCPU (no scheduler: one vCPU per reserved pCPU at a time).
pub fn launch(pcpu: u16, l: Launch) -> bool {
    let Some(c) = PCPUS
        .get(usize::from(pcpu))
        .filter(|c| c.alive.load(Ordering::Acquire))
    else {
        warn!(
            "vm{} vCPU {}: pCPU {pcpu} is not running",
            l.vmid, l.vcpu_id
        );
        return false;
    };
    let mut slot = c.launch.lock();
    if c.running.load(Ordering::Acquire) != 0 {
        warn!(
            "vm{} vCPU {}: pCPU {pcpu} is busy with another vCPU",
            l.vmid, l.vcpu_id
        );
        return false;
    }
    c.stop.store(false, Ordering::Release);
    c.running.store(u32::from(l.vmid) + 1, Ordering::Release);
    *slot = Some(l);
    drop(slot);
    kick(pcpu);
    true
}

/// PAUSE_VM (and RESET/DESTROY): makes `pcpu` leave VM `vmid`'s vCPU and waits until it
/// has (the nested page table may be freed afterwards). Returns false if the pCPU did not
/// leave within 2 s: the caller must then keep whatever the vCPU may still use.
pub fn stop(pcpu: u16, vmid: u16) -> bool {
    let Some(c) = PCPUS.get(usize::from(pcpu)) else {
        return true;
    };
    let tag = u32::from(vmid) + 1;
    {
        let mut slot = c.launch.lock();
        if slot.is_some_and(|l| l.vmid == vmid) {
            // Never picked up.
            *slot = None;
            c.running.store(0, Ordering::Release);
            return true;
        }
    }
    if c.running.load(Ordering::Acquire) != tag {
        return true;
    }
    c.stop.store(true, Ordering::Release);
    kick(pcpu);
    let khz = TSC_KHZ.load(Ordering::Relaxed);
    let t0 = rdtsc();
    while c.running.load(Ordering::Acquire) == tag {
        if rdtsc() - t0 > 2000 * khz {
            error!("pCPU {pcpu} did not leave vm{vmid}'s vCPU within 2 s");
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

/// Shared state of VM `vmid`'s vCPU `vcpu`.
pub fn vcpu_shared(vmid: u16, vcpu: u16) -> Option<&'static VcpuShared> {
    VCPUS.get(usize::from(vmid))?.get(usize::from(vcpu))
}

/// Forgets VM `vmid`'s pending interrupts and IOREQ events (create, reset, destroy).
pub fn reset_vm(vmid: u16) {
    if let Some(vs) = VCPUS.get(usize::from(vmid)) {
        for v in vs {
            v.irr.clear();
            v.event.reset();
        }
    }
}

/// `STGI; STI; HLT; CLI; CLGI`: sleeps until an interrupt (a kick) arrives, takes it, and
/// returns with GIF and IF clear again. STI's one-instruction shadow covers HLT, so a kick
/// sent after the caller's last check is never lost.
fn wait_for_kick() {
    // SAFETY: the only interrupts a reserved pCPU receives are kicks (handler: EOI) and
    // spurious ones; the IDT is loaded. GIF and IF are clear again afterwards.
    unsafe { core::arch::asm!("stgi", "sti", "hlt", "cli", "clgi", options(nomem, nostack)) };
}

/// Takes an interrupt that is pending (after an INTR/NMI exit).
fn take_interrupt() {
    // SAFETY: as in `wait_for_kick`; the NOP gives the pending interrupt its boundary.
    unsafe { core::arch::asm!("stgi", "sti", "nop", "cli", "clgi", options(nomem, nostack)) };
}

/// Entry of a reserved pCPU (from the trampoline, on its own stack, boot GDT loaded).
extern "C" fn hv_ap_entry(cpu: u32) -> ! {
    let cpu = cpu as usize;
    crate::trap::load();
    let host_xcr0 = match HOST_XCR0.load(Ordering::Relaxed) {
        0 => None,
        x => Some(x),
    };
    // SAFETY: as on the boot CPU: PAT index 0 stays write-back; XCR0 is the value the
    // boot CPU set (same CPU model); CR4.OSXSAVE only enables XSETBV/XGETBV.
    unsafe {
        wrmsr(MSR_PAT, HOST_PAT);
        if let Some(x) = host_xcr0 {
            acrn_hv_boot::x86::write_cr4(
                acrn_hv_boot::x86::read_cr4() | acrn_hv_boot::x86::CR4_OSXSAVE,
            );
            xsetbv0(x);
        }
    }
    let (Some(hsave), Some(vmcb)) = (AP_HSAVE[cpu].take(), AP_VMCB[cpu].take()) else {
        acrn_hv_boot::x86::halt_forever()
    };
    // SAFETY: the page is this pCPU's host save area, in hypervisor memory.
    if let Err(e) = unsafe { acrn_hv_svm::svm::enable(hsave.0.as_ptr() as u64) } {
        error!("pCPU {cpu}: SVM enable failed: {e:?}");
        acrn_hv_boot::x86::halt_forever()
    }
    // SAFETY: this pCPU's APIC belongs to the hypervisor; enabling it lets kicks in.
    unsafe {
        lapic::write(
            lapic::REG_SVR,
            lapic::SVR_ENABLE | u32::from(SPURIOUS_VECTOR),
        )
    };
    let ctl = &PCPUS[cpu];
    ctl.alive.store(true, Ordering::Release);
    let mut vmcb = Some(vmcb);
    loop {
        let l = loop {
            if let Some(l) = ctl.launch.lock().take() {
                break l;
            }
            wait_for_kick();
        };
        let Some(v) = vmcb.take() else {
            acrn_hv_boot::x86::halt_forever()
        };
        vmcb = Some(run(cpu, ctl, v, &l, host_xcr0));
        ctl.running.store(0, Ordering::Release);
    }
}

/// Runs the vCPU `l` until a stop request or a fatal exit; gives the VMCB back.
fn run(
    cpu: usize,
    ctl: &'static PcpuCtl,
    vmcb: &'static mut Vmcb,
    l: &Launch,
    host_xcr0: Option<u64>,
) -> &'static mut Vmcb {
    let (iopm_pa, msrpm_pa) = *USER_PERM.lock();
    let cfg = VmcbConfig {
        asid: 1 + u32::from(l.vmid),
        n_cr3: l.n_cr3,
        iopm_pa,
        msrpm_pa,
    };
    let mut gprs = GuestRegs::default();
    init_user_vmcb(vmcb, &mut gprs, &cfg, l.regs.as_ref());
    let mut vcpu = Vcpu::new(vmcb, l.vmid, host_xcr0);
    vcpu.regs = gprs;
    let Some(shared) = vcpu_shared(l.vmid, l.vcpu_id) else {
        return vcpu.vmcb;
    };
    debug!(
        "pCPU {cpu}: vm{} vCPU {} starts at {:#x}:{:#x}",
        l.vmid, l.vcpu_id, vcpu.vmcb.save.cs.base, vcpu.vmcb.save.rip
    );
    let mut host = UserHost {
        ctl,
        l: *l,
        shared,
        lapic: LapicRegs::RESET,
        v_irq: false,
    };
    loop {
        if ctl.stop.load(Ordering::Acquire) {
            break;
        }
        inject_pending(vcpu.vmcb, || shared.irr.take_highest());
        vcpu.enter();
        host.v_irq = irq_waiting(vcpu.vmcb);
        match handle_user_exit(&mut vcpu, &mut host) {
            Ok(()) => {}
            Err(Stop::Requested) => break,
            Err(why) => {
                error!("vm{} vCPU {} stopped: {why:?}", l.vmid, l.vcpu_id);
                vcpu.dump();
                break;
            }
        }
    }
    debug!(
        "pCPU {cpu}: vm{} vCPU {} left after {} exits",
        l.vmid, l.vcpu_id, vcpu.exits
    );
    vcpu.vmcb
}

/// [`UserVmHost`] on a reserved pCPU.
struct UserHost {
    ctl: &'static PcpuCtl,
    l: Launch,
    shared: &'static VcpuShared,
    lapic: LapicRegs,
    /// A vector waits in V_IRQ (taken by the guest as soon as RFLAGS.IF allows).
    v_irq: bool,
}

impl UserHost {
    fn stopping(&self) -> bool {
        self.ctl.stop.load(Ordering::Acquire)
    }

    /// The VM table, unless a stop request comes first (pCPU 0 may hold the lock while it
    /// waits for this pCPU to stop).
    fn lock_vms(&self) -> Result<SpinGuard<'static, VmTable>, Stop> {
        loop {
            if let Some(g) = crate::VMS.try_lock() {
                return Ok(g);
            }
            if self.stopping() {
                return Err(Stop::Requested);
            }
            core::hint::spin_loop();
        }
    }

    fn page(&self) -> Option<&'static IoreqBuffer> {
        let pa = self.l.ioreq_page?;
        if pa % 4096 != 0 || pa + 4096 > IDENTITY_LIMIT {
            return None;
        }
        // SAFETY: SET_IOREQ_BUFFER checked that `pa` is a page of Service VM RAM (never
        // hypervisor memory), identity-mapped below 4 GiB; `IoreqBuffer` is made of atomics
        // only, so whatever the Service VM writes concurrently is no data race.
        Some(unsafe { &*(pa as *const IoreqBuffer) })
    }
}

/// Guest physical memory of a User VM: its regions, read from Service VM RAM only.
struct UserRam<'a> {
    regions: &'a [Region],
    svc: &'a ServiceVmRam,
}

impl GuestPhysMem for UserRam<'_> {
    fn read_phys(&self, gpa: u64, buf: &mut [u8]) -> HvResult {
        let mut done = 0usize;
        while done < buf.len() {
            let cur = gpa.checked_add(done as u64).ok_or(hv_err!(EINVAL))?;
            let r = self
                .regions
                .iter()
                .find(|r| cur >= r.gpa && cur - r.gpa < r.size)
                .ok_or(hv_err!(EINVAL))?;
            let n = ((r.size - (cur - r.gpa)) as usize).min(buf.len() - done);
            self.svc
                .read_bytes(r.hpa + (cur - r.gpa), &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }
}

impl UserVmHost for UserHost {
    fn io_request(&mut self, req: &IoReq) -> Result<u64, Stop> {
        let page = self.page();
        let (id, ev) = (self.l.vcpu_id, &self.shared.event);
        if insert_request(page, id, req, self.l.polling, ev).is_err() {
            return Err(Stop::Unsupported("no free I/O request slot"));
        }
        // SAFETY: this pCPU's APIC is the hypervisor's; the destination is the Service
        // VM's pCPU, which takes the vector as a normal interrupt.
        unsafe {
            lapic::send_ipi(
                SERVICE_APIC_ID.load(Ordering::Relaxed),
                lapic::fixed(UPCALL_VECTOR.load(Ordering::Relaxed)),
            )
        };
        let polling = self.l.polling;
        let ctl = self.ctl;
        wait_for_completion(page, id, polling, ev, || {
            if ctl.stop.load(Ordering::Acquire) {
                return false;
            }
            if polling {
                core::hint::spin_loop();
            } else {
                wait_for_kick();
            }
            true
        })
        .map_err(|_| Stop::Requested)?;
        match emulate_io_complete(page, id, req, false) {
            Ok(v) => Ok(v.unwrap_or(0)),
            Err(_) => Err(Stop::Requested),
        }
    }

    fn decode_mmio(
        &mut self,
        paging: &GuestPaging,
        la: u64,
        bitness: u32,
        user: bool,
    ) -> Result<MmioDecoded, Stop> {
        let svc = ServiceVmRam::new((*SVC_MAP.lock()).ok_or(Stop::Requested)?);
        let guard = self.lock_vms()?;
        let vm = guard.vm(self.l.vmid).ok_or(Stop::Requested)?;
        let ram = UserRam {
            regions: vm.regions.as_slice(),
            svc: &svc,
        };
        let fetch = WalkFetch {
            mem: &ram,
            paging: *paging,
            user,
        };
        decode_at(&fetch, la, bitness).map_err(|e| {
            warn!("vm{}: MMIO instruction at {la:#x}: {e:?}", self.l.vmid);
            Stop::Unsupported("MMIO instruction")
        })
    }

    fn halt(&mut self, wake_on_irq: bool) -> Result<(), Stop> {
        loop {
            if self.stopping() {
                return Err(Stop::Requested);
            }
            if wake_on_irq && (self.v_irq || self.shared.irr.pending()) {
                return Ok(());
            }
            wait_for_kick();
        }
    }

    fn take_interrupt(&mut self) {
        take_interrupt();
    }

    fn local_mmio(&mut self, gpa: u64, size: u64, write: Option<u64>) -> Result<Option<u64>, Stop> {
        let page = gpa & !0xfff;
        let off = gpa & 0xfff;
        if page == vlapic::LAPIC_BASE {
            return Ok(Some(match write {
                Some(v) => {
                    vlapic::mmio_write(&mut self.lapic, off, v);
                    0
                }
                None => vlapic::mmio_read(&self.lapic, self.l.lapic_id, off, size),
            }));
        }
        if page != IOAPIC_BASE {
            return Ok(None);
        }
        let mut vms = self.lock_vms()?;
        let vm = vms
            .vm_mut_for_emulation(self.l.vmid)
            .ok_or(Stop::Requested)?;
        Ok(Some(match write {
            Some(v) => {
                vm.vioapic.mmio_write(off, v as u32);
                0
            }
            None => u64::from(vm.vioapic.mmio_read(off)),
        }))
    }

    fn cpuid_ctx(&self, guest_cr4: u64) -> CpuidCtx {
        CpuidCtx {
            tsc_khz: TSC_KHZ.load(Ordering::Relaxed) as u32,
            privileged: false,
            guest_cr4,
            debug: [[0; 4]; acrn_hv_core::cpuid::DEBUG_SUBLEAVES],
        }
    }

    fn native_cpuid(&self, leaf: u32, subleaf: u32, xcr0: u64) -> CpuidResult {
        match HOST_XCR0.load(Ordering::Relaxed) {
            host if host != 0 && leaf == 0xd && xcr0 != host => {
                // SAFETY: CR4.OSXSAVE is set on this pCPU; both values were accepted by the
                // CPU before.
                unsafe { xsetbv0(xcr0) };
                let r = cpuid(leaf, subleaf);
                // SAFETY: as above.
                unsafe { xsetbv0(host) };
                r
            }
            _ => cpuid(leaf, subleaf),
        }
    }
}
