// SPDX-License-Identifier: GPL-2.0

//! VM lifecycle through the hypercalls (ACRN `hcall_{create,start,pause,reset,destroy}_vm`,
//! `hcall_set_vcpu_regs`, `hcall_set_ioreq_buffer`).

use super::*;
use crate::error::{ENOTTY, EPERM};
use crate::vm::{VcpuState, VmState, MAX_VCPUS_PER_VM};
use crate::vm_table::LiveObjects;

const EPERM64: i64 = -(EPERM as i64);
const ENOTTY64: i64 = -(ENOTTY as i64);

fn state(env: &Env, vm: u16) -> VmState {
    env.vms.vm(vm).unwrap().state
}

#[test]
fn create_returns_vmid_and_vcpus() {
    let mut env = Env::new();
    let (r, cv) = env.create("first", 0, 0);
    assert_eq!(r, 0);
    assert_eq!((cv.vmid, cv.vcpu_num), (1, 2)); // default affinity: pCPUs 2 and 3
    let vm = env.vms.vm(1).unwrap();
    assert_eq!(vm.state, VmState::Created);
    assert_eq!(vm.name_str(), b"first");
    assert_eq!(vm.cpu_affinity, 0b1100);
    assert_eq!(
        vm.vcpus()
            .iter()
            .map(|v| (v.pcpu, v.lapic_id, v.state))
            .collect::<Vec<_>>(),
        [(2, 0, VcpuState::Init), (3, 1, VcpuState::Init)]
    );
    let (r, cv) = env.create("second", 0, 0b1000);
    assert_eq!((r, cv.vmid, cv.vcpu_num), (0, 2, 1));
    assert_eq!(env.vms.vm(2).unwrap().vcpus()[0].pcpu, 3);
    // An empty name is allowed and becomes "ACRN VM_<id>".
    let (r, cv) = env.create("", 0, 0);
    assert_eq!((r, cv.vmid), (0, 3));
    assert_eq!(env.vms.vm(3).unwrap().name_str(), b"ACRN VM_3");
    assert_eq!(env.arch.events, ["created 1", "created 2", "created 3"]);
}

#[test]
fn same_name_twice_is_refused() {
    let mut env = Env::new();
    let vm = env.create_ok("dup");
    for _ in 0..3 {
        let (r, _) = env.create("dup", 0, 0);
        assert_eq!(r, EPERM64);
    }
    // The live VM kept its name (ACRN would have cleared it).
    assert_eq!(
        env.vms.get_vmid_by_name(b"dup\0\0\0\0\0\0\0\0\0\0\0\0\0"),
        Some(vm)
    );
    assert_eq!(env.vms.live().vms, 1);
    // The Service VM's name is taken too.
    let (r, _) = env.create("ACRN_Service_VM", 0, 0);
    assert_eq!(r, EPERM64);
}

#[test]
fn affinity_and_flags() {
    let mut env = Env::new();
    // Bits outside the pCPUs reserved for User VMs: -1.
    for aff in [0b0001, 0b0101, 1 << 40] {
        assert_eq!(env.create("x", 0, aff).0, EPERM64);
    }
    // LAPIC passthrough needs RT.
    assert_eq!(
        env.create("x", hv::GUEST_FLAG_LAPIC_PASSTHROUGH, 0).0,
        EPERM64
    );
    let flags = hv::GUEST_FLAG_LAPIC_PASSTHROUGH | hv::GUEST_FLAG_RT | hv::GUEST_FLAG_HIDE_MTRR;
    let (r, cv) = env.create("x", flags, 0);
    assert_eq!(r, 0);
    // Only DM-owned flags are kept.
    let vm = env.vms.vm(cv.vmid).unwrap();
    assert_eq!(
        vm.guest_flags,
        hv::GUEST_FLAG_LAPIC_PASSTHROUGH | hv::GUEST_FLAG_RT
    );
    // Failed attempts did not keep slots or names.
    assert_eq!(cv.vmid, 1);
    assert_eq!(env.vms.live().vms, 1);
}

#[test]
fn slots_run_out_with_enotty() {
    let mut env = Env::new();
    for i in 1..MAX_VMS as u16 {
        assert_eq!(env.create_ok(&format!("vm{i}")), i);
    }
    assert_eq!(env.create("one-too-many", 0, 0).0, ENOTTY64);
    // An existing name still finds its slot (and is refused: it is running).
    assert_eq!(env.create("vm3", 0, 0).0, EPERM64);
}

#[test]
fn create_argument_must_be_readable() {
    let mut env = Env::new();
    for gpa in [HV_BASE, 0xfec0_0000, u64::MAX - 8] {
        assert_eq!(env.hc(hv::HC_CREATE_VM, gpa, 0), ENOTTY64);
    }
    assert_eq!(env.vms.live(), LiveObjects::default());
}

#[test]
fn failed_create_returns_invalid_vmid_and_frees_the_slot() {
    let mut env = Env::new();
    env.arch.fail_create = true;
    let (r, cv) = env.create("nomem", 0, 0);
    assert_eq!((r, cv.vmid), (0, hv::ACRN_INVALID_VMID)); // HSM checks the vmid
    assert_eq!(env.vms.vm(1).unwrap().name, [0; 16]);
    env.arch.fail_create = false;
    assert_eq!(env.create_ok("nomem"), 1);
}

#[test]
fn transitions() {
    let mut env = Env::new();
    let vm = env.create_ok("a");
    let id = u64::from(vm);
    // START needs the I/O request buffer.
    assert_eq!(env.hc(hv::HC_START_VM, id, 0), EPERM64);
    // RESET / DESTROY need Paused.
    assert_eq!(env.hc(hv::HC_RESET_VM, id, 0), EPERM64);
    assert_eq!(env.hc(hv::HC_DESTROY_VM, id, 0), EPERM64);
    assert_eq!(env.set_ioreq(vm, 0x30_0000), 0);
    assert_eq!(env.hc(hv::HC_START_VM, id, 0), 0);
    assert_eq!(state(&env, vm), VmState::Running);
    assert_eq!(env.vms.vm(vm).unwrap().vcpus()[0].state, VcpuState::Running);
    assert_eq!(env.vms.vm(vm).unwrap().vcpus()[1].state, VcpuState::Init);
    for id_ in [hv::HC_START_VM, hv::HC_RESET_VM, hv::HC_DESTROY_VM] {
        assert_eq!(env.hc(id_, id, 0), EPERM64);
    }
    assert_eq!(env.set_ioreq(vm, 0x30_0000), EPERM64); // only while Created
    assert_eq!(env.hc(hv::HC_PAUSE_VM, id, 0), 0);
    assert_eq!(env.hc(hv::HC_PAUSE_VM, id, 0), 0); // already paused: success
    assert_eq!(state(&env, vm), VmState::Paused);
    assert!(env
        .vms
        .vm(vm)
        .unwrap()
        .vcpus()
        .iter()
        .all(|v| v.state == VcpuState::Zombie));
    assert_eq!(env.hc(hv::HC_START_VM, id, 0), EPERM64);
    // RESET frees every I/O request slot and goes back to Created.
    env.mem
        .write_obj(0x30_0000 + 5 * 256 + 136, &acrn::ACRN_IOREQ_STATE_PENDING)
        .unwrap();
    assert_eq!(env.hc(hv::HC_RESET_VM, id, 0), 0);
    assert_eq!(state(&env, vm), VmState::Created);
    assert_eq!(
        env.mem.read_obj::<u32>(0x30_0000 + 5 * 256 + 136).unwrap(),
        acrn::ACRN_IOREQ_STATE_FREE
    );
    assert_eq!(env.hc(hv::HC_START_VM, id, 0), 0);
    // Created VMs can be paused (and so destroyed) without running.
    assert_eq!(env.hc(hv::HC_PAUSE_VM, id, 0), 0);
    assert_eq!(env.hc(hv::HC_DESTROY_VM, id, 0), 0);
    assert_eq!(state(&env, vm), VmState::PoweredOff);
    assert_eq!(env.vms.vm(vm).unwrap().name, [0; 16]);
    for id_ in [
        hv::HC_START_VM,
        hv::HC_PAUSE_VM,
        hv::HC_RESET_VM,
        hv::HC_DESTROY_VM,
    ] {
        assert_eq!(env.hc(id_, id, 0), EPERM64);
    }
    assert_eq!(
        env.arch.events,
        [
            "created 1",
            "started 1",
            "paused 1",
            "reset 1",
            "started 1",
            "paused 1",
            "destroyed 1"
        ]
    );
}

#[test]
fn service_vm_is_never_a_lifecycle_target() {
    let mut env = Env::new();
    for id in [
        hv::HC_START_VM,
        hv::HC_PAUSE_VM,
        hv::HC_RESET_VM,
        hv::HC_DESTROY_VM,
    ] {
        assert_eq!(env.hc(id, 0, 0), EPERM64);
    }
    assert_eq!(state(&env, 0), VmState::Running);
    assert_eq!(env.set_ioreq(0, 0x30_0000), EPERM64);
}

#[test]
fn set_vcpu_regs_rules() {
    let mut env = Env::new();
    let vm = env.create_ok("a"); // two vCPUs
    let mut regs = acrn::VcpuRegs::default();
    regs.vcpu_regs.cr0 = 0x30; // ET | NE, real mode
    regs.vcpu_regs.rip = 0xfff0;
    let set = |env: &mut Env, regs: &acrn::VcpuRegs| {
        env.mem.write_bytes(ARG, &as_bytes(regs)).unwrap();
        env.hc(hv::HC_SET_VCPU_REGS, vm.into(), ARG)
    };
    assert_eq!(set(&mut env, &regs), 0);
    assert_eq!(env.vms.vm(vm).unwrap().vcpus()[0].regs.unwrap().rip, 0xfff0);
    for bad_id in [2, MAX_VCPUS_PER_VM as u16, u16::MAX] {
        let r = acrn::VcpuRegs {
            vcpu_id: bad_id,
            ..regs
        };
        assert_eq!(set(&mut env, &r), EPERM64);
    }
    let mut vmxe = regs;
    vmxe.vcpu_regs.cr4 = 1 << 13;
    assert_eq!(set(&mut env, &vmxe), EPERM64);
    let mut high_cr0 = regs;
    high_cr0.vcpu_regs.cr0 |= 1 << 32;
    assert_eq!(set(&mut env, &high_cr0), EPERM64);
    assert_eq!(env.hc(hv::HC_SET_VCPU_REGS, vm.into(), 0), EPERM64);
    assert_eq!(env.hc(hv::HC_SET_VCPU_REGS, vm.into(), HV_BASE), EPERM64);
    // Not while running.
    assert_eq!(env.set_ioreq(vm, 0x30_0000), 0);
    assert_eq!(env.hc(hv::HC_START_VM, vm.into(), 0), 0);
    assert_eq!(set(&mut env, &regs), EPERM64);
    assert_eq!(env.hc(hv::HC_PAUSE_VM, vm.into(), 0), 0);
    let ap = acrn::VcpuRegs { vcpu_id: 1, ..regs };
    assert_eq!(set(&mut env, &ap), 0);
    // RESET forgets them.
    assert_eq!(env.hc(hv::HC_RESET_VM, vm.into(), 0), 0);
    assert!(env
        .vms
        .vm(vm)
        .unwrap()
        .vcpus()
        .iter()
        .all(|v| v.regs.is_none()));
}

fn as_bytes(regs: &acrn::VcpuRegs) -> Vec<u8> {
    // Field by field: `VcpuRegs` has tail padding, so it is not `ToGuest`.
    let mut v = Vec::new();
    v.extend_from_slice(&regs.vcpu_id.to_le_bytes());
    v.extend_from_slice(&[0; 6]);
    let r = &regs.vcpu_regs;
    let g = &r.gprs;
    for x in [
        g.rax, g.rcx, g.rdx, g.rbx, g.rsp, g.rbp, g.rsi, g.rdi, g.r8, g.r9, g.r10, g.r11, g.r12,
        g.r13, g.r14, g.r15,
    ] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(&[0; 32]); // gdt, idt
    for x in [r.rip, r.cs_base, r.cr0, r.cr4, r.cr3, r.ia32_efer, r.rflags] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.resize(core::mem::size_of::<acrn::VcpuRegs>(), 0);
    v
}

#[test]
fn ioreq_buffer_rules() {
    let mut env = Env::new();
    let vm = env.create_ok("a");
    // Not a whole page of Service VM RAM: refused and cleared.
    for page in [0x30_0800, HV_BASE, 0xfec0_0000, 0x9_f000] {
        assert_eq!(env.set_ioreq(vm, page), EPERM64, "{page:#x}");
        assert_eq!(env.vms.vm(vm).unwrap().ioreq_buf, None);
    }
    // The u64 itself must be readable.
    assert_eq!(env.hc(hv::HC_SET_IOREQ_BUFFER, vm.into(), HV_BASE), EPERM64);
    env.mem
        .write_obj(0x30_0000 + 15 * 256 + 136, &7u32)
        .unwrap();
    assert_eq!(env.set_ioreq(vm, 0x30_0000), 0);
    assert_eq!(env.vms.vm(vm).unwrap().ioreq_buf, Some(0x30_0000));
    for slot in 0..16u64 {
        let st: u32 = env.mem.read_obj(0x30_0000 + slot * 256 + 136).unwrap();
        assert_eq!(st, acrn::ACRN_IOREQ_STATE_FREE);
    }
    assert_eq!(env.set_ioreq(3, 0x30_0000), EPERM64); // free slot
}

#[test]
fn hundred_create_destroy_cycles_leak_nothing() {
    let mut env = Env::new();
    for i in 0..100u64 {
        let vm = env.create_ok("cycle");
        assert_eq!(vm, 1, "slot reused");
        assert_eq!(env.set_ioreq(vm, 0x30_0000), 0);
        let regions = [
            add(0, BACKING, 0x20_0000),
            add(0x100_0000, BACKING + 0x40_0000 + i * 0x1000, 0x1000),
        ];
        assert_eq!(env.set_regions(vm, &regions), 0);
        assert_eq!(env.arch.translate(vm, 0x1234), Some(BACKING + 0x1234));
        assert_eq!(env.hc(hv::HC_START_VM, vm.into(), 0), 0);
        assert_eq!(env.hc(hv::HC_PAUSE_VM, vm.into(), 0), 0);
        if i % 2 == 0 {
            assert_eq!(env.hc(hv::HC_RESET_VM, vm.into(), 0), 0);
            assert_eq!(env.hc(hv::HC_PAUSE_VM, vm.into(), 0), 0);
        }
        assert_eq!(env.hc(hv::HC_DESTROY_VM, vm.into(), 0), 0);
        assert_eq!(env.vms.live(), LiveObjects::default());
        assert_eq!(env.arch.frames.in_use, 0);
    }
    let c = env.vms.counters();
    assert_eq!((c.vm_creates, c.vm_destroys), (100, 100));
}
