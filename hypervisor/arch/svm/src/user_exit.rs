// SPDX-License-Identifier: GPL-2.0

//! #VMEXIT handling for User VM vCPUs: [`handle_user_exit`]. Unlike the Service VM, a User
//! VM owns nothing: every port, MSR and unmapped guest-physical address exits, and the
//! device model in the Service VM emulates it through an IOREQ ([`UserVmHost::io_request`]).
//!
//! | exit | action |
//! |---|---|
//! | IOIO (0x7b) | PORTIO request (`in`/`out` of 1, 2, 4 bytes; `ins`/`outs` unsupported: stop); a read's value merged into RAX; RIP = EXITINFO2 (QEMU stores the next RIP there) |
//! | NPF (0x400) | the instruction at CS:RIP is fetched through the guest's page tables and decoded ([`acrn_hv_core::decode`]); accesses to the xAPIC and IOAPIC pages go to the vLAPIC and vIOAPIC ([`UserVmHost::local_mmio`]), every other one becomes an MMIO request; reads are written back to the right register at the right width ([`acrn_hv_core::mmio`]); RIP += length |
//! | HLT (0x78) | RIP += 1, then wait for an interrupt (with RFLAGS.IF set) or a stop request |
//! | CPUID (0x72) | the shared policy, not privileged (no ACRN "Service VM" bit, no debug leaf) |
//! | MSR (0x7c) | EFER emulated as for the Service VM (SVME hidden), VM_CR / VM_HSAVE_PA; any other MSR: #GP(0) |
//! | #UD (0x46), VMRUN … SKINIT | #UD (a User VM's `vmcall` gets #UD, ACRN `vmcall_vmexit_handler`) |
//! | INTR (0x60), NMI (0x61) | the host takes the interrupt (a kick from another pCPU); the run loop then looks at its requests |
//! | SHUTDOWN (0x7f) | the vCPU stops (triple fault) |
//! | INVALID, NPF during a guest page walk, undecodable MMIO instruction, anything else | the vCPU stops |
//!
//! "Stop" ends the vCPU's run ([`Stop`]); the VM stays as it is until the Service VM pauses,
//! resets or destroys it. Nothing a guest does panics the hypervisor.

use crate::event::INJECT_UD;
use crate::exit::*;
use crate::vcpu::Vcpu;
use crate::vmcb::{Vmcb, V_IGN_TPR, V_INTR_PRIO_SHIFT, V_INTR_VECTOR_SHIFT, V_IRQ};
use acrn_hv_core::cpuid::{guest_cpuid, is_hypervisor_leaf, CpuidCtx, CpuidResult};
use acrn_hv_core::decode::{bitness, MmioDecoded};
use acrn_hv_core::ioreq::{pio_read_merge, IoReq};
use acrn_hv_core::mmio::{complete_read, complete_write, request, GuestGprs, MmioRequest};
use acrn_hv_core::page_walk::GuestPaging;

/// Exit code: NMI.
pub const EXIT_NMI: u64 = 0x61;

/// Why a User VM vCPU stops running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The Service VM asked (PAUSE_VM, RESET_VM, DESTROY_VM).
    Requested,
    /// The guest triple-faulted.
    Shutdown,
    /// VMRUN refused the VMCB.
    InvalidVmcb,
    /// The guest did something this hypervisor does not emulate.
    Unsupported(&'static str),
    /// An exit code without handler.
    Unhandled(u64),
}

/// What the User VM exit handlers need from the rest of the hypervisor.
pub trait UserVmHost {
    /// Sends `req` to the Service VM as an IOREQ and waits for its completion; returns
    /// the value for a read (0 for a write). `Err` if the vCPU must stop meanwhile.
    fn io_request(&mut self, req: &IoReq) -> Result<u64, Stop>;
    /// Fetches the instruction at guest linear `la` through the guest's page tables
    /// (`paging`; `user` for CPL 3) and decodes it as an MMIO access.
    fn decode_mmio(
        &mut self,
        paging: &GuestPaging,
        la: u64,
        bitness: u32,
        user: bool,
    ) -> Result<MmioDecoded, Stop>;
    /// HLT: waits until an interrupt is pending (only if `wake_on_irq`, i.e. RFLAGS.IF is
    /// set) or the vCPU must stop (`Err`).
    fn halt(&mut self, wake_on_irq: bool) -> Result<(), Stop>;
    /// A physical interrupt or NMI made the guest exit: let the host take it.
    fn take_interrupt(&mut self);
    /// An access the hypervisor emulates itself (the vLAPIC and vIOAPIC pages): a read
    /// (`write` = `None`) or write of `size` bytes at `gpa`. `Ok(Some(value))` if handled
    /// (the value read, 0 for writes), `Ok(None)` if the device model gets it as an IOREQ.
    fn local_mmio(&mut self, gpa: u64, size: u64, write: Option<u64>) -> Result<Option<u64>, Stop>;
    /// CPUID context for this vCPU with `guest_cr4`.
    fn cpuid_ctx(&self, guest_cr4: u64) -> CpuidCtx;
    /// The host's CPUID with XCR0 = `xcr0`.
    fn native_cpuid(&self, leaf: u32, subleaf: u32, xcr0: u64) -> CpuidResult;
}

const LEN_HLT: u64 = 1;
const RFLAGS_IF: u64 = 1 << 9;
const LEN_CPUID: u64 = 2;

/// IOIO EXITINFO1 bits (APM vol. 2 §15.10.2).
const IOIO_IN: u64 = 1 << 0;
const IOIO_STR: u64 = 1 << 2;
const IOIO_REP: u64 = 1 << 3;

/// NPF EXITINFO1 bit: the fault happened while walking the guest's page tables.
const NPF_GPT: u64 = 1 << 33;

/// The access an IOIO exit describes: (port, size, is a write), or `None` for string or
/// malformed I/O.
pub fn decode_ioio(info1: u64) -> Option<(u16, u64, bool)> {
    if info1 & (IOIO_STR | IOIO_REP) != 0 {
        return None;
    }
    let size = match (info1 >> 4) & 7 {
        1 => 1,
        2 => 2,
        4 => 4,
        _ => return None,
    };
    Some(((info1 >> 16) as u16, size, info1 & IOIO_IN == 0))
}

/// The general registers in encoding order, as [`acrn_hv_core::mmio`] wants them.
pub fn gprs(v: &Vcpu) -> GuestGprs {
    let (s, r) = (&v.vmcb.save, &v.regs);
    GuestGprs {
        gpr: [
            s.rax, r.rcx, r.rdx, r.rbx, s.rsp, r.rbp, r.rsi, r.rdi, r.r8, r.r9, r.r10, r.r11,
            r.r12, r.r13, r.r14, r.r15,
        ],
        rflags: s.rflags,
    }
}

/// Writes `g` back into the vCPU.
pub fn set_gprs(v: &mut Vcpu, g: &GuestGprs) {
    let [rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15] = g.gpr;
    v.vmcb.save.rax = rax;
    v.vmcb.save.rsp = rsp;
    v.vmcb.save.rflags = g.rflags;
    let r = &mut v.regs;
    (r.rcx, r.rdx, r.rbx, r.rbp, r.rsi, r.rdi) = (rcx, rdx, rbx, rbp, rsi, rdi);
    (r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15) = (r8, r9, r10, r11, r12, r13, r14, r15);
}

/// Before VMRUN: delivers the highest pending vector (`take`) unless an event is already
/// being injected.
///
/// If the guest can take an interrupt now (RFLAGS.IF set, no interrupt shadow) the vector is
/// injected with EVENTINJ, which the CPU delivers at VMRUN, before any guest instruction
/// (as KVM does). Otherwise it waits in V_IRQ (priority 15, TPR ignored) for the guest to
/// enable interrupts. A vector already waiting in V_IRQ moves to EVENTINJ as soon as the
/// guest is interruptible at an exit: QEMU's SVM emulation does not act on a V_IRQ that is
/// pending at VMRUN until something else sends the vCPU back to its main loop, so a guest
/// that enables interrupts and halts (`sti; hlt`) would otherwise never take it.
pub fn inject_pending(vmcb: &mut Vmcb, take: impl FnOnce() -> Option<u8>) {
    let interruptible = vmcb.save.rflags & RFLAGS_IF != 0
        && vmcb.control.int_state & crate::vmcb::INTERRUPT_SHADOW == 0;
    let c = &mut vmcb.control;
    if c.event_inj & crate::event::VALID != 0 {
        return;
    }
    if c.int_ctl & V_IRQ != 0 {
        if interruptible {
            let v = (c.int_ctl >> V_INTR_VECTOR_SHIFT) as u8;
            c.int_ctl &= !V_IRQ;
            c.event_inj = crate::event::interrupt(v);
        }
        return;
    }
    let Some(v) = take() else {
        return;
    };
    if interruptible {
        c.event_inj = crate::event::interrupt(v);
    } else {
        c.int_ctl = (c.int_ctl & !(0xff << V_INTR_VECTOR_SHIFT) & !(0xf << V_INTR_PRIO_SHIFT))
            | V_IRQ
            | V_IGN_TPR
            | (0xf << V_INTR_PRIO_SHIFT)
            | (u64::from(v) << V_INTR_VECTOR_SHIFT);
    }
}

/// Whether a virtual interrupt is still waiting in V_IRQ.
pub fn irq_waiting(vmcb: &Vmcb) -> bool {
    vmcb.control.int_ctl & V_IRQ != 0
}

/// Handles the exit that just happened on User VM vCPU `vcpu`.
pub fn handle_user_exit<H: UserVmHost>(vcpu: &mut Vcpu, host: &mut H) -> Result<(), Stop> {
    vcpu.exits += 1;
    let c = &mut vcpu.vmcb.control;
    let code = c.exit_code;
    c.event_inj = if c.exit_int_info & crate::event::VALID != 0 {
        c.exit_int_info
    } else {
        0
    };
    match code {
        c if is_invalid(c) => Err(Stop::InvalidVmcb),
        EXIT_IOIO => handle_ioio(vcpu, host),
        EXIT_NPF => handle_npf(vcpu, host),
        EXIT_HLT => {
            vcpu.advance_rip(LEN_HLT);
            let wake = vcpu.vmcb.save.rflags & RFLAGS_IF != 0;
            host.halt(wake)
        }
        EXIT_CPUID => {
            let (leaf, subleaf) = (vcpu.vmcb.save.rax as u32, vcpu.regs.rcx as u32);
            let native = if is_hypervisor_leaf(leaf) {
                CpuidResult::default()
            } else {
                host.native_cpuid(leaf, subleaf, vcpu.guest_xcr0)
            };
            let r = guest_cpuid(leaf, subleaf, native, &host.cpuid_ctx(vcpu.vmcb.save.cr4));
            vcpu.vmcb.save.rax = u64::from(r.eax);
            vcpu.regs.rbx = u64::from(r.ebx);
            vcpu.regs.rcx = u64::from(r.ecx);
            vcpu.regs.rdx = u64::from(r.edx);
            vcpu.advance_rip(LEN_CPUID);
            Ok(())
        }
        EXIT_MSR => {
            handle_msr(vcpu);
            Ok(())
        }
        EXIT_EXCP_UD | EXIT_VMRUN | EXIT_VMMCALL | EXIT_VMLOAD | EXIT_VMSAVE | EXIT_STGI
        | EXIT_CLGI | EXIT_SKINIT | EXIT_INVLPGA => {
            vcpu.inject(INJECT_UD);
            Ok(())
        }
        EXIT_INTR | EXIT_NMI => {
            host.take_interrupt();
            Ok(())
        }
        EXIT_SHUTDOWN => Err(Stop::Shutdown),
        other => Err(Stop::Unhandled(other)),
    }
}

fn handle_ioio<H: UserVmHost>(vcpu: &mut Vcpu, host: &mut H) -> Result<(), Stop> {
    let c = &vcpu.vmcb.control;
    let (port, size, write) =
        decode_ioio(c.exit_info1).ok_or(Stop::Unsupported("string port I/O"))?;
    let next = c.exit_info2;
    let rax = vcpu.vmcb.save.rax;
    let req = IoReq::pio(port, size, write, rax).map_err(|_| Stop::Unsupported("port width"))?;
    let v = host.io_request(&req)?;
    if !write {
        vcpu.vmcb.save.rax = pio_read_merge(rax, size, v);
    }
    vcpu.vmcb.save.rip = next;
    Ok(())
}

fn handle_npf<H: UserVmHost>(vcpu: &mut Vcpu, host: &mut H) -> Result<(), Stop> {
    let (info1, gpa) = (vcpu.vmcb.control.exit_info1, vcpu.vmcb.control.exit_info2);
    if info1 & NPF_GPT != 0 {
        return Err(Stop::Unsupported("guest page tables outside guest RAM"));
    }
    let s = &vcpu.vmcb.save;
    let paging = GuestPaging {
        cr0: s.cr0,
        cr3: s.cr3,
        cr4: s.cr4,
        efer: s.efer,
    };
    let bits = bitness(
        paging.real_mode(),
        s.efer & (1 << 10) != 0,
        s.cs.attrib & (1 << 9) != 0,
        s.cs.attrib & (1 << 10) != 0,
    );
    let la = s.cs.base.wrapping_add(s.rip);
    let user = s.cpl == 3;
    let d = host.decode_mmio(&paging, la, bits, user)?;
    let size = u64::from(d.size);
    let mut g = gprs(vcpu);
    let write = |host: &mut H, v: u64| -> Result<(), Stop> {
        if host.local_mmio(gpa, size, Some(v))?.is_some() {
            Ok(())
        } else {
            let req =
                IoReq::mmio(gpa, size, true, v).map_err(|_| Stop::Unsupported("MMIO width"))?;
            host.io_request(&req).map(|_| ())
        }
    };
    match request(&d, &g) {
        MmioRequest::Write(v) => {
            write(host, v)?;
            complete_write(&d, &mut g);
        }
        MmioRequest::Read => {
            let v = match host.local_mmio(gpa, size, None)? {
                Some(v) => v,
                None => {
                    let req = IoReq::mmio(gpa, size, false, 0)
                        .map_err(|_| Stop::Unsupported("MMIO width"))?;
                    host.io_request(&req)?
                }
            };
            if let Some(w) = complete_read(&d, &mut g, v) {
                write(host, w)?;
            }
        }
    }
    set_gprs(vcpu, &g);
    vcpu.advance_rip(u64::from(d.len));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use acrn_hv_core::decode::decode;
    use acrn_hv_core::ioreq::IoreqType;
    use acrn_hv_core::vlapic::{LAPIC_BASE, LAPIC_SIZE};
    use acrn_uapi::acrn::ACRN_IOREQ_DIR_READ;

    /// Answers reads with `read_value`, records requests; the "guest" code is `code`.
    struct Host {
        code: Vec<u8>,
        read_value: u64,
        reqs: Vec<IoReq>,
        lapic: Vec<(u64, u64)>,
        halted: Vec<bool>,
        took: u32,
    }

    impl UserVmHost for Host {
        fn io_request(&mut self, req: &IoReq) -> Result<u64, Stop> {
            self.reqs.push(*req);
            Ok(if req.direction == ACRN_IOREQ_DIR_READ {
                self.read_value
            } else {
                0
            })
        }
        fn decode_mmio(
            &mut self,
            _: &GuestPaging,
            _: u64,
            bitness: u32,
            _: bool,
        ) -> Result<MmioDecoded, Stop> {
            decode(&self.code, bitness).map_err(|_| Stop::Unsupported("decode"))
        }
        fn halt(&mut self, wake: bool) -> Result<(), Stop> {
            self.halted.push(wake);
            Ok(())
        }
        fn take_interrupt(&mut self) {
            self.took += 1;
        }
        fn local_mmio(
            &mut self,
            gpa: u64,
            _: u64,
            write: Option<u64>,
        ) -> Result<Option<u64>, Stop> {
            if gpa & !(LAPIC_SIZE - 1) != LAPIC_BASE {
                return Ok(None);
            }
            match write {
                Some(v) => self.lapic.push((gpa - LAPIC_BASE, v)),
                None => return Ok(Some(gpa - LAPIC_BASE)),
            }
            Ok(Some(0))
        }
        fn cpuid_ctx(&self, cr4: u64) -> CpuidCtx {
            CpuidCtx {
                tsc_khz: 1000,
                privileged: false,
                guest_cr4: cr4,
                debug: [[0; 4]; 3],
            }
        }
        fn native_cpuid(&self, _: u32, _: u32, _: u64) -> CpuidResult {
            CpuidResult::default()
        }
    }

    fn setup(code: u64, info1: u64, info2: u64, bytes: &[u8]) -> (Vcpu, Host) {
        let vmcb: &'static mut Vmcb = Box::leak(Box::new(Vmcb::ZERO));
        vmcb.control.exit_code = code;
        vmcb.control.exit_info1 = info1;
        vmcb.control.exit_info2 = info2;
        vmcb.save.rip = 0x100;
        vmcb.save.cr0 = 1; // protected mode, CS.D: 32-bit code
        vmcb.save.cs.attrib = 0xc9b;
        let v = Vcpu::new(vmcb, 1, None);
        let h = Host {
            code: bytes.to_vec(),
            read_value: 0x1122_3344_5566_7788,
            reqs: vec![],
            lapic: vec![],
            halted: vec![],
            took: 0,
        };
        (v, h)
    }

    #[test]
    fn port_io_in_and_out() {
        // out dx, ax (port 0x1234, 16 bits): next RIP from EXITINFO2.
        let (mut v, mut h) = setup(EXIT_IOIO, (0x1234 << 16) | (2 << 4), 0x102, &[]);
        v.vmcb.save.rax = 0xdead_beef;
        handle_user_exit(&mut v, &mut h).unwrap();
        assert_eq!(h.reqs[0], IoReq::pio(0x1234, 2, true, 0xbeef).unwrap());
        assert_eq!(v.vmcb.save.rip, 0x102);
        // in al, 0x80: only AL changes.
        let (mut v, mut h) = setup(EXIT_IOIO, (0x80 << 16) | (1 << 4) | IOIO_IN, 0x102, &[]);
        v.vmcb.save.rax = 0xffff_ff00;
        handle_user_exit(&mut v, &mut h).unwrap();
        assert_eq!(h.reqs[0].kind, IoreqType::Pio);
        assert!(h.reqs[0].is_read());
        assert_eq!(v.vmcb.save.rax, 0xffff_ff88);
        // String I/O stops the vCPU.
        let (mut v, mut h) = setup(EXIT_IOIO, (0x80 << 16) | (1 << 4) | IOIO_STR, 0x102, &[]);
        assert!(matches!(
            handle_user_exit(&mut v, &mut h),
            Err(Stop::Unsupported(_))
        ));
        assert!(h.reqs.is_empty());
    }

    #[test]
    fn mmio_read_lands_in_the_register() {
        // mov ecx, [eax] (8b 08) at GPA 0xc000_0010.
        let (mut v, mut h) = setup(EXIT_NPF, 1 << 32, 0xc000_0010, &[0x8b, 0x08]);
        v.regs.rcx = u64::MAX;
        handle_user_exit(&mut v, &mut h).unwrap();
        assert_eq!(h.reqs[0], IoReq::mmio(0xc000_0010, 4, false, 0).unwrap());
        assert_eq!(v.regs.rcx, 0x5566_7788, "32-bit destination zero-extends");
        assert_eq!(v.vmcb.save.rip, 0x102);
        // mov byte [eax], 0x5a (c6 00 5a): a 1-byte write.
        let (mut v, mut h) = setup(EXIT_NPF, 1 << 32, 0xc000_0000, &[0xc6, 0x00, 0x5a]);
        handle_user_exit(&mut v, &mut h).unwrap();
        assert_eq!(h.reqs[0], IoReq::mmio(0xc000_0000, 1, true, 0x5a).unwrap());
        assert_eq!(v.vmcb.save.rip, 0x103);
        // or [eax], edx (09 10): read, then write of the result.
        let (mut v, mut h) = setup(EXIT_NPF, 1 << 32, 0xc000_0000, &[0x09, 0x10]);
        v.regs.rdx = 0x0f00_0000;
        handle_user_exit(&mut v, &mut h).unwrap();
        assert_eq!(h.reqs.len(), 2);
        assert_eq!(h.reqs[1].value, 0x5f66_7788);
    }

    #[test]
    fn lapic_page_stays_in_the_hypervisor() {
        // mov [eax], ecx at the EOI register: no IOREQ.
        let (mut v, mut h) = setup(EXIT_NPF, 1 << 32, LAPIC_BASE + 0xb0, &[0x89, 0x08]);
        handle_user_exit(&mut v, &mut h).unwrap();
        assert!(h.reqs.is_empty());
        assert_eq!(h.lapic, vec![(0xb0, 0)]);
        // A fault while walking the guest's tables stops the vCPU.
        let (mut v, mut h) = setup(EXIT_NPF, NPF_GPT, 0x5000, &[0x89, 0x08]);
        assert!(handle_user_exit(&mut v, &mut h).is_err());
        // An instruction that is not an MMIO form stops it too.
        let (mut v, mut h) = setup(EXIT_NPF, 1 << 32, 0xc000_0000, &[0x0f, 0x0b]);
        assert!(handle_user_exit(&mut v, &mut h).is_err());
    }

    #[test]
    fn hlt_ud_shutdown_and_kicks() {
        let (mut v, mut h) = setup(EXIT_HLT, 0, 0, &[]);
        v.vmcb.save.rflags = 0x202;
        // `sti; hlt`: the HLT was in STI's shadow; skipping it ends the shadow, so a pending
        // V_IRQ is taken right after it (before a `cli` that may follow).
        v.vmcb.control.int_state = crate::vmcb::INTERRUPT_SHADOW;
        handle_user_exit(&mut v, &mut h).unwrap();
        assert_eq!((h.halted.clone(), v.vmcb.save.rip), (vec![true], 0x101));
        assert_eq!(v.vmcb.control.int_state & crate::vmcb::INTERRUPT_SHADOW, 0);
        v.vmcb.save.rflags = 0x2;
        handle_user_exit(&mut v, &mut h).unwrap();
        assert!(!h.halted[1], "cli; hlt waits for a stop only");
        let (mut v, mut h) = setup(EXIT_EXCP_UD, 0, 0, &[]);
        handle_user_exit(&mut v, &mut h).unwrap();
        assert_eq!(
            v.vmcb.control.event_inj, INJECT_UD,
            "vmcall from a User VM: #UD"
        );
        let (mut v, mut h) = setup(EXIT_SHUTDOWN, 0, 0, &[]);
        assert_eq!(handle_user_exit(&mut v, &mut h), Err(Stop::Shutdown));
        let (mut v, mut h) = setup(EXIT_INTR, 0, 0, &[]);
        handle_user_exit(&mut v, &mut h).unwrap();
        assert_eq!(h.took, 1);
        let (mut v, mut h) = setup(0xffff_ffff, 0, 0, &[]);
        assert_eq!(handle_user_exit(&mut v, &mut h), Err(Stop::InvalidVmcb));
    }

    #[test]
    fn pending_vector_goes_to_v_irq_once() {
        let mut vmcb = Box::new(Vmcb::ZERO);
        inject_pending(&mut vmcb, || Some(0x31));
        assert!(irq_waiting(&vmcb));
        assert_eq!((vmcb.control.int_ctl >> V_INTR_VECTOR_SHIFT) & 0xff, 0x31);
        inject_pending(&mut vmcb, || panic!("V_IRQ busy: nothing taken"));
        vmcb.control.int_ctl &= !V_IRQ;
        vmcb.control.event_inj = crate::event::VALID | 14;
        inject_pending(&mut vmcb, || panic!("event being injected: nothing taken"));
    }

    #[test]
    fn interruptible_guests_get_the_vector_through_eventinj() {
        let intr = crate::event::interrupt;
        // IF set, no shadow: straight into EVENTINJ.
        let mut vmcb = Box::new(Vmcb::ZERO);
        vmcb.save.rflags = RFLAGS_IF | 2;
        inject_pending(&mut vmcb, || Some(0x40));
        assert_eq!(vmcb.control.event_inj, intr(0x40));
        assert!(!irq_waiting(&vmcb));
        // In an interrupt shadow (sti; hlt): V_IRQ, then EVENTINJ once the shadow is over.
        let mut vmcb = Box::new(Vmcb::ZERO);
        vmcb.save.rflags = RFLAGS_IF | 2;
        vmcb.control.int_state = crate::vmcb::INTERRUPT_SHADOW;
        inject_pending(&mut vmcb, || Some(0x41));
        assert!(irq_waiting(&vmcb));
        assert_eq!(vmcb.control.event_inj, 0);
        vmcb.control.int_state = 0;
        inject_pending(&mut vmcb, || panic!("the waiting vector goes first"));
        assert_eq!(vmcb.control.event_inj, intr(0x41));
        assert!(!irq_waiting(&vmcb));
    }
}
