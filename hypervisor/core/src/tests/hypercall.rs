// SPDX-License-Identifier: GPL-2.0

//! Dispatch and permission rules (ACRN `vmcall_vmexit_handler`, `dispatch_hypercall`).

use super::*;
use crate::error::{EINVAL, ENOTTY, EPERM};
use crate::hypercall::{hypercall_info, HcStatus, HYPERCALLS};

#[test]
fn user_vm_gets_ud_whatever_the_call() {
    let mut env = Env::new();
    let vm = env.create_ok("uos");
    for id in [hv::HC_GET_API_VERSION, hv::HC_CREATE_VM, 0x8000_00ff, 0] {
        for cpl in [0, 3] {
            assert_eq!(env.vmcall_from(vm, cpl, id, ARG, 0), HcOutcome::InjectUd);
        }
    }
    // A free slot or an id beyond the table is no hypercall-capable VM either.
    assert_eq!(
        env.vmcall_from(5, 0, hv::HC_GET_API_VERSION, ARG, 0),
        HcOutcome::InjectUd
    );
    assert_eq!(
        env.vmcall_from(200, 0, hv::HC_GET_API_VERSION, ARG, 0),
        HcOutcome::InjectUd
    );
}

#[test]
fn secure_world_vm_may_call_but_gets_enotty() {
    let mut env = Env::new();
    let (r, cv) = env.create("trusty", hv::GUEST_FLAG_SECURE_WORLD_ENABLED, 0);
    assert_eq!(r, 0);
    // ACRN is_guest_hypercall: no #UD. Ring check still applies.
    assert_eq!(
        env.vmcall_from(cv.vmid, 3, hv::HC_WORLD_SWITCH, 0, 0),
        HcOutcome::InjectGp
    );
    // Trusty handlers are not implemented; Service VM handlers are not permitted.
    for id in [
        hv::HC_WORLD_SWITCH,
        hv::HC_INITIALIZE_TRUSTY,
        hv::HC_GET_API_VERSION,
        hv::HC_CREATE_VM,
    ] {
        assert_eq!(
            env.vmcall_from(cv.vmid, 0, id, ARG, 0),
            HcOutcome::Return(-i64::from(ENOTTY))
        );
    }
}

#[test]
fn service_vm_outside_ring0_gets_gp_and_nothing_happens() {
    let mut env = Env::new();
    env.mem.write_obj(ARG, &0xdead_beef_u64).unwrap();
    for cpl in 1..=3 {
        assert_eq!(
            env.vmcall_from(SERVICE_VM_ID, cpl, hv::HC_GET_API_VERSION, ARG, 0),
            HcOutcome::InjectGp
        );
        assert_eq!(
            env.vmcall_from(SERVICE_VM_ID, cpl, hv::HC_CREATE_VM, ARG, 0),
            HcOutcome::InjectGp
        );
    }
    assert_eq!(env.mem.read_obj::<u64>(ARG).unwrap(), 0xdead_beef);
    assert_eq!(env.vms.live().vms, 0);
}

#[test]
fn get_api_version() {
    let mut env = Env::new();
    assert_eq!(env.hc(hv::HC_GET_API_VERSION, ARG, 0), 0);
    let v: hv::HcApiVersion = env.mem.read_obj(ARG).unwrap();
    assert_eq!((v.major_version, v.minor_version), (1, 0));
    // copy_to_gpa failure is -EINVAL: hypervisor memory, MMIO, wrapping.
    for gpa in [HV_BASE, 0xfec0_0000, u64::MAX - 3] {
        assert_eq!(env.hc(hv::HC_GET_API_VERSION, gpa, 0), -i64::from(EINVAL));
    }
    // RAX is the sign-extended int32.
    assert_eq!(hv::hc_ret_to_rax(-EINVAL) as i64, -i64::from(EINVAL));
}

#[test]
fn only_the_low_byte_selects_the_handler() {
    let mut env = Env::new();
    let vm = env.create_ok("a");
    assert_eq!(env.set_ioreq(vm, 0x30_0000), 0);
    // 0xffff_ff12 is START_VM for the dispatcher; param1 is the vmid as usual.
    assert_eq!(env.hc(0xffff_ff12, vm.into(), 0), 0);
    assert_eq!(env.vms.vm(vm).unwrap().state, crate::vm::VmState::Running);
    assert_eq!(env.hc(0x0000_0013, vm.into(), 0), 0); // PAUSE_VM
    assert_eq!(env.hc(0x1234_5611, vm.into(), 0), 0); // DESTROY_VM
    assert_eq!(env.vms.live().vms, 0);
    // parse_target_vm compares the full id: a non-canonical GET_API_VERSION takes param1
    // as a relative vmid, so a GPA whose low 16 bits are < MAX_VMS works ...
    assert_eq!(env.hc(0x0000_0100, ARG, 0), 0);
    // ... and any other GPA has no target VM: -ENOTTY.
    assert_eq!(env.hc(0x0000_0100, ARG + 0x40, 0), -i64::from(ENOTTY));
    assert_eq!(env.hc(hv::HC_GET_API_VERSION, ARG + 0x40, 0), 0);
}

#[test]
fn unknown_and_unimplemented_give_enotty() {
    let mut env = Env::new();
    let vm = env.create_ok("a");
    for idx in [
        0x03, 0x17, 0x20, 0x45, 0x50, 0x51, 0x52, 0x64, 0x81, 0x92, 0xff,
    ] {
        assert_eq!(
            env.hc(hv::base_hc_id(hv::HC_ID, idx), vm.into(), ARG),
            -i64::from(ENOTTY),
            "{idx:#x}"
        );
    }
    for h in HYPERCALLS
        .iter()
        .filter(|h| h.status != HcStatus::Implemented)
    {
        assert_eq!(
            env.hc(h.id, vm.into(), ARG),
            -i64::from(ENOTTY),
            "{}",
            h.name
        );
    }
    // The table covers every id exactly once.
    for h in HYPERCALLS {
        assert_eq!(hypercall_info(h.id).unwrap().name, h.name);
    }
    // A target vmid beyond the table: -ENOTTY before the handler runs.
    for id in [
        hv::HC_DESTROY_VM,
        hv::HC_START_VM,
        hv::HC_PAUSE_VM,
        hv::HC_RESET_VM,
        hv::HC_CREATE_VCPU,
    ] {
        assert_eq!(env.hc(id, 8, 0), -i64::from(ENOTTY));
    }
    // param1 is taken as a u16: 0x1_0001 is VM 1, which is Created, not Paused.
    assert_eq!(env.hc(hv::HC_DESTROY_VM, 0x1_0001, 0), -i64::from(EPERM));
    assert_eq!(env.hc(hv::HC_CREATE_VCPU, vm.into(), 0), 0);
}

#[test]
fn set_callback_vector_range() {
    let mut env = Env::new();
    assert_eq!(env.vms.upcall_vector(), 0xf3);
    for bad in [0, 0x1f, 0x100, u64::MAX] {
        assert_eq!(
            env.hc(hv::HC_SET_CALLBACK_VECTOR, bad, 0),
            -i64::from(EINVAL)
        );
    }
    assert_eq!(env.hc(hv::HC_SET_CALLBACK_VECTOR, 0x20, 0), 0);
    assert_eq!(env.vms.upcall_vector(), 0x20);
    assert_eq!(env.hc(hv::HC_SET_CALLBACK_VECTOR, 0xff, 0), 0);
    assert_eq!(env.vms.upcall_vector(), 0xff);
}

#[test]
fn service_vm_offline_cpu() {
    let mut env = Env::new();
    assert_eq!(env.vms.user_vm_pcpus(), 0b1100);
    assert_eq!(
        env.hc(hv::HC_SERVICE_VM_OFFLINE_CPU, 0, 0),
        -i64::from(EPERM)
    ); // the BSP
    assert_eq!(env.hc(hv::HC_SERVICE_VM_OFFLINE_CPU, 9, 0), 0); // nobody
    assert_eq!(env.hc(hv::HC_SERVICE_VM_OFFLINE_CPU, 1, 0), 0);
    assert_eq!(env.hc(hv::HC_SERVICE_VM_OFFLINE_CPU, 1, 0), 0);
    assert_eq!(env.arch.events, ["offline 1 1"]);
    // Its pCPU may now host User VM vCPUs.
    assert_eq!(env.vms.user_vm_pcpus(), 0b1110);
    let (r, cv) = env.create("a", 0, 0b0010);
    assert_eq!((r, cv.vcpu_num), (0, 1));
}

#[test]
fn pm_get_cpu_state_reports_zero_states() {
    let mut env = Env::new();
    let vm = env.create_ok("a");
    let cmd = |ty: u64, vmid: u16| {
        hv::PmCmd {
            vmid: vmid as u8,
            vcpu: 0,
            state: 0,
            cmd_type: ty as u8,
        }
        .to_u64()
    };
    env.mem.write_obj(ARG, &0xffu8).unwrap();
    assert_eq!(
        env.hc(
            hv::HC_PM_GET_CPU_STATE,
            cmd(acrn::ACRN_PMCMD_GET_CX_CNT, vm),
            ARG
        ),
        0
    );
    assert_eq!(env.mem.read_obj::<u8>(ARG).unwrap(), 0);
    for ty in [
        acrn::ACRN_PMCMD_GET_PX_CNT,
        acrn::ACRN_PMCMD_GET_PX_DATA,
        acrn::ACRN_PMCMD_GET_CX_DATA,
        9,
    ] {
        assert_eq!(
            env.hc(hv::HC_PM_GET_CPU_STATE, cmd(ty, vm), ARG),
            -i64::from(EPERM)
        );
    }
    // Only Created or Paused targets; the vmid is in bits 31:24.
    assert_eq!(
        env.hc(
            hv::HC_PM_GET_CPU_STATE,
            cmd(acrn::ACRN_PMCMD_GET_CX_CNT, 3),
            ARG
        ),
        -i64::from(EPERM)
    );
    assert_eq!(
        env.hc(
            hv::HC_PM_GET_CPU_STATE,
            cmd(acrn::ACRN_PMCMD_GET_CX_CNT, 0),
            ARG
        ),
        -i64::from(EPERM)
    );
    assert_eq!(
        env.hc(
            hv::HC_PM_GET_CPU_STATE,
            cmd(acrn::ACRN_PMCMD_GET_CX_CNT, 9),
            ARG
        ),
        -i64::from(ENOTTY)
    );
    assert_eq!(
        env.hc(
            hv::HC_PM_GET_CPU_STATE,
            cmd(acrn::ACRN_PMCMD_GET_CX_CNT, vm),
            HV_BASE
        ),
        -i64::from(EINVAL)
    );
}
