// SPDX-License-Identifier: GPL-2.0

//! sysfs attributes of `/dev/acrn_hsm` (Linux `hsm.c`): writing a CPU number to
//! `/sys/class/misc/acrn_hsm/remove_cpu` takes that Service VM CPU offline and gives its
//! pCPU back to the hypervisor (`HC_SERVICE_VM_OFFLINE_CPU`), so a User VM can run there.
//! `offline_cpu` is the same file under the name ACRN's own kernel used. Both exist only
//! with `CONFIG_HOTPLUG_CPU`; the attribute table is C (`hsm_shim.c`).
//!
//! As upstream: `EINVAL` for a number that does not parse (`kstrtoull`, base 0), for CPU 0,
//! a CPU that is not possible or not hotpluggable; if the hypervisor refuses, the CPU is
//! brought back online and its error returned.

use crate::{hypercall, kext::miscdev::AttributeGroups};
use kernel::{
    bindings,
    ffi::{c_char, c_uint, c_void},
    prelude::*,
};

extern "C" {
    fn acrn_hsm_num_possible_cpus() -> c_uint;
    fn acrn_hsm_cpu_online(cpu: c_uint) -> bool;
    fn acrn_hsm_cpu_apicid(cpu: c_uint) -> u32;
    static acrn_hsm_attr_groups: [*const c_void; 2];
}

/// The attribute groups to register the device with.
pub(crate) fn groups() -> &'static AttributeGroups {
    // SAFETY: `acrn_hsm_attr_groups` is a static NULL-terminated array of attribute groups in
    // this module's C shim; its store callbacks call `acrn_hsm_remove_cpu` below, sound at any
    // time.
    static GROUPS: AttributeGroups =
        unsafe { AttributeGroups::from_raw(core::ptr::addr_of!(acrn_hsm_attr_groups).cast()) };
    &GROUPS
}

/// The store callback of both attributes: `buf` holds `count` bytes, NUL-terminated (sysfs
/// guarantees it). Returns `count` or a negative errno.
#[no_mangle]
extern "C" fn acrn_hsm_remove_cpu(buf: *const c_char, count: usize) -> isize {
    let mut cpu: u64 = 0;
    // SAFETY: sysfs passes a NUL-terminated buffer; `cpu` is a valid place for the result.
    if unsafe { bindings::kstrtoull(buf, 0, &mut cpu) } < 0 {
        return EINVAL.to_errno() as isize;
    }
    match remove_cpu(cpu) {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

fn remove_cpu(cpu: u64) -> Result {
    // SAFETY: Reads the possible-CPU mask's weight.
    let possible = u64::from(unsafe { acrn_hsm_num_possible_cpus() });
    if cpu == 0 || cpu >= possible {
        return Err(EINVAL);
    }
    let cpu = cpu as c_uint;
    // SAFETY: `cpu` is a possible CPU number.
    if !unsafe { bindings::cpu_is_hotpluggable(cpu) } {
        return Err(EINVAL);
    }
    // SAFETY: `cpu` is a possible CPU number; the calls take the hotplug locks themselves.
    unsafe {
        if acrn_hsm_cpu_online(cpu) {
            // As upstream, a failure here is not reported: the hypercall decides.
            let _ = bindings::remove_cpu(cpu);
        }
    }
    // SAFETY: `cpu` is a possible CPU, whose per-CPU data exists.
    let lapicid = u64::from(unsafe { acrn_hsm_cpu_apicid(cpu) });
    hypercall::offline_cpu(lapicid).inspect_err(|_| {
        pr_err!("failed to remove cpu {}\n", cpu);
        // SAFETY: `cpu` is a possible, hotpluggable CPU.
        let _ = unsafe { bindings::add_cpu(cpu) };
    })
}
