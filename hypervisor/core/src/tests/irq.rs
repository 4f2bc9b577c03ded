// SPDX-License-Identifier: GPL-2.0

//! NOTIFY_REQUEST_FINISH and INJECT_MSI through the hypercalls (ACRN
//! `hcall_notify_ioreq_finish`, `hcall_inject_msi` / `vlapic_inject_msi`).

use super::*;
use crate::error::{EINVAL, EPERM};

const EPERM64: i64 = -(EPERM as i64);

fn msi(env: &mut Env, vm: u16, addr: u64, data: u64) -> i64 {
    let e = acrn::MsiEntry {
        msi_addr: addr,
        msi_data: data,
    };
    env.mem.write_obj(ARG + 0x400, &e.msi_addr).unwrap();
    env.mem.write_obj(ARG + 0x408, &e.msi_data).unwrap();
    env.hc(hv::HC_INJECT_MSI, vm.into(), ARG + 0x400)
}

fn events(env: &mut Env) -> Vec<String> {
    core::mem::take(&mut env.arch.events)
        .into_iter()
        .filter(|e| e.starts_with("finished") || e.starts_with("irq"))
        .collect()
}

#[test]
fn notify_request_finish_signals_the_vcpu() {
    let mut env = Env::new();
    let vm = env.create_ok("notify");
    // No I/O request buffer yet: -1.
    assert_eq!(env.hc(hv::HC_NOTIFY_REQUEST_FINISH, vm.into(), 0), EPERM64);
    assert_eq!(env.set_ioreq(vm, 0x30_0000), 0);
    assert_eq!(env.hc(hv::HC_NOTIFY_REQUEST_FINISH, vm.into(), 1), 0);
    assert_eq!(events(&mut env), ["finished 1 1"]);
    // vCPU ids beyond the VM's (2 vCPUs) and the Service VM are refused.
    assert_eq!(env.hc(hv::HC_NOTIFY_REQUEST_FINISH, vm.into(), 2), EPERM64);
    assert_eq!(
        env.hc(hv::HC_NOTIFY_REQUEST_FINISH, vm.into(), 1 << 32),
        EPERM64
    );
    assert_eq!(env.hc(hv::HC_NOTIFY_REQUEST_FINISH, 0, 0), EPERM64);
    assert_eq!(
        env.hc(hv::HC_NOTIFY_REQUEST_FINISH, 5, 0),
        EPERM64,
        "free slot"
    );
    assert!(events(&mut env).is_empty());
}

#[test]
fn notify_in_polling_mode_signals_nothing() {
    let mut env = Env::new();
    let (r, cv) = env.create("poll", hv::GUEST_FLAG_IO_COMPLETION_POLLING, 0);
    assert_eq!(r, 0);
    assert_eq!(env.set_ioreq(cv.vmid, 0x30_0000), 0);
    assert_eq!(env.hc(hv::HC_NOTIFY_REQUEST_FINISH, cv.vmid.into(), 0), 0);
    assert!(events(&mut env).is_empty());
}

#[test]
fn inject_msi_targets_vcpus_by_apic_id() {
    let mut env = Env::new();
    let vm = env.create_ok("msi");
    // Physical destination 1: vCPU 1 only.
    assert_eq!(msi(&mut env, vm, 0xfee0_1000, 0x31), 0);
    assert_eq!(events(&mut env), ["irq 1 1 0x31"]);
    // Broadcast: both; lowest priority: the first only.
    assert_eq!(msi(&mut env, vm, 0xfeef_f000, 0x32), 0);
    assert_eq!(events(&mut env), ["irq 1 0 0x32", "irq 1 1 0x32"]);
    assert_eq!(msi(&mut env, vm, 0xfeef_f000, 0x133), 0);
    assert_eq!(events(&mut env), ["irq 1 0 0x33"]);
    // Logical destination bitmap 0b10: vCPU 1.
    assert_eq!(msi(&mut env, vm, 0xfee0_2004, 0x34), 0);
    assert_eq!(events(&mut env), ["irq 1 1 0x34"]);
    // NMI delivery mode: accepted, dropped; no such APIC id: nothing.
    assert_eq!(msi(&mut env, vm, 0xfee0_0000, 0x435), 0);
    assert_eq!(msi(&mut env, vm, 0xfee0_7000, 0x36), 0);
    assert!(events(&mut env).is_empty());
    // Outside the MSI window, the Service VM, a free slot: -1; unreadable entry: -EINVAL.
    assert_eq!(msi(&mut env, vm, 0xfed0_0000, 0x37), EPERM64);
    assert_eq!(msi(&mut env, 0, 0xfee0_0000, 0x37), EPERM64);
    assert_eq!(msi(&mut env, 6, 0xfee0_0000, 0x37), EPERM64);
    assert_eq!(
        env.hc(hv::HC_INJECT_MSI, vm.into(), HV_BASE),
        -i64::from(EINVAL)
    );
    assert!(events(&mut env).is_empty());
}

#[test]
fn set_irqline_goes_through_the_vioapic() {
    let mut env = Env::new();
    let vm = env.create_ok("irqline");
    let line = |gsi: u32, op: u32| hv::IrqlineOps { gsi, op }.to_u64();
    // Masked after reset: nothing.
    assert_eq!(
        env.hc(
            hv::HC_SET_IRQLINE,
            vm.into(),
            line(5, hv::GSI_RAISING_PULSE)
        ),
        0
    );
    assert!(events(&mut env).is_empty());
    // Program pin 5: vector 0x45 to APIC id 1, as the guest would through IOWIN.
    let v = &mut env.vms.vm_mut_for_emulation(vm).unwrap().vioapic;
    v.mmio_write(0, 0x1a);
    v.mmio_write(0x10, 0x45);
    v.mmio_write(0, 0x1b);
    v.mmio_write(0x10, 0x0100_0000);
    assert_eq!(
        env.hc(
            hv::HC_SET_IRQLINE,
            vm.into(),
            line(5, hv::GSI_RAISING_PULSE)
        ),
        0
    );
    assert_eq!(events(&mut env), ["irq 1 1 0x45"]);
    assert_eq!(
        env.hc(hv::HC_SET_IRQLINE, vm.into(), line(5, hv::GSI_SET_HIGH)),
        0
    );
    assert_eq!(
        env.hc(hv::HC_SET_IRQLINE, vm.into(), line(5, hv::GSI_SET_HIGH)),
        0
    );
    assert_eq!(events(&mut env), ["irq 1 1 0x45"], "only the rising edge");
    // Beyond the pins or an unknown op: ignored, as ACRN.
    assert_eq!(env.hc(hv::HC_SET_IRQLINE, vm.into(), line(48, 0)), 0);
    assert_eq!(env.hc(hv::HC_SET_IRQLINE, vm.into(), line(5, 9)), 0);
    assert!(events(&mut env).is_empty());
    // The Service VM and free slots: -1. RESET_VM masks every pin again.
    assert_eq!(env.hc(hv::HC_SET_IRQLINE, 0, line(5, 0)), EPERM64);
    assert_eq!(env.hc(hv::HC_SET_IRQLINE, 6, line(5, 0)), EPERM64);
    assert_eq!(env.hc(hv::HC_PAUSE_VM, vm.into(), 0), 0);
    assert_eq!(env.hc(hv::HC_RESET_VM, vm.into(), 0), 0);
    assert_eq!(
        env.hc(
            hv::HC_SET_IRQLINE,
            vm.into(),
            line(5, hv::GSI_RAISING_PULSE)
        ),
        0
    );
    assert!(events(&mut env).is_empty());
}
