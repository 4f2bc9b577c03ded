// SPDX-License-Identifier: GPL-2.0

//! HC_VM_SET_MEMORY_REGIONS validation (ACRN `hcall_set_vm_memory_regions`,
//! `set_vm_memory_region`) plus the stricter checks of [`crate::memory`].

use super::*;
use crate::error::{EINVAL, ENOTTY, EPERM};
use crate::memory::{MemType, GPA_LIMIT};
use crate::npt::PageSize;

const EINVAL64: i64 = -(EINVAL as i64);
const EPERM64: i64 = -(EPERM as i64);

#[test]
fn good_regions_are_mapped_with_huge_pages() {
    let mut env = Env::new();
    let vm = env.create_ok("a");
    let regions = [
        add(0, BACKING, 0x4000_0000),
        add(0x1_0000_0000, BACKING + 0x4000_0000 - 0x1000, 0x1000),
    ];
    // The second one ends exactly at the end of RAM.
    assert_eq!(env.set_regions(vm, &regions), 0);
    let npt = env.arch.npts[usize::from(vm)].as_ref().unwrap();
    let t = npt.translate(&env.arch.frames, 0x3fff_ffff).unwrap();
    assert_eq!(
        (t.hpa, t.size, t.attr.mem_type),
        (BACKING + 0x3fff_ffff, PageSize::Size1G, MemType::Wb)
    );
    assert_eq!(
        env.arch.translate(vm, 0x1_0000_0fff),
        Some(BACKING + 0x3fff_ffff)
    );
    assert_eq!(env.arch.translate(vm, 0x1_0000_1000), None);
    assert_eq!(env.arch.translate(vm, 0x4000_0000), None);
    assert_eq!(env.vms.vm(vm).unwrap().regions.len(), 2);
    // A size-0 ADD is a successful no-op.
    assert_eq!(env.set_regions(vm, &[add(0x8000_0000, BACKING, 0)]), 0);
}

#[test]
fn hypervisor_memory_is_refused() {
    let mut env = Env::new();
    let vm = env.create_ok("a");
    for r in [
        add(0, HV_BASE, 0x1000),
        add(0, HV_BASE + HV_SIZE - 0x1000, 0x1000),
        add(0, HV_BASE - 0x1000, 0x2000),           // runs into it
        add(0, HV_BASE - 0x20_0000, 0x1_0000_0000), // covers it
    ] {
        assert_eq!(env.set_regions(vm, &[r]), EINVAL64, "{r:?}");
    }
    assert_eq!(env.set_regions(vm, &[add(0, HV_BASE + HV_SIZE, 0x1000)]), 0);
    assert_eq!(env.arch.frames.in_use, 4); // root + 3 levels for the one page
}

#[test]
fn another_vms_ram_is_refused() {
    let mut env = Env::new();
    let a = env.create_ok("a");
    let b = env.create_ok("b");
    assert_eq!(env.set_regions(a, &[add(0, BACKING, 0x20_0000)]), 0);
    assert_eq!(
        env.set_regions(b, &[add(0, BACKING + 0x1f_f000, 0x2000)]),
        EINVAL64
    );
    assert_eq!(
        env.set_regions(b, &[add(0, BACKING + 0x20_0000, 0x20_0000)]),
        0
    );
    // After A is gone its memory may be reused.
    assert_eq!(env.hc(hv::HC_PAUSE_VM, a.into(), 0), 0);
    assert_eq!(env.hc(hv::HC_DESTROY_VM, a.into(), 0), 0);
    assert_eq!(
        env.set_regions(b, &[add(0x100_0000, BACKING, 0x20_0000)]),
        0
    );
    // Aliasing inside one VM is allowed (ACRN does not filter it either).
    assert_eq!(env.set_regions(b, &[add(0x200_0000, BACKING, 0x1000)]), 0);
}

#[test]
fn overflow_unaligned_overlap_are_refused() {
    let mut env = Env::new();
    let vm = env.create_ok("a");
    let top = !0xfffu64;
    for r in [
        add(top, BACKING, 0x2000),                // gpa + size wraps
        add(0, top, 0x2000),                      // service_vm_gpa + size wraps
        add(GPA_LIMIT - 0x1000, BACKING, 0x2000), // beyond the nested page table
        add(0, BACKING, 0x1001),                  // unaligned size
        add(0x10, BACKING, 0x1000),               // unaligned gpa
        add(0, BACKING + 0x10, 0x1000),           // unaligned service_vm_gpa
        add(0, 0x1_4000_0000, 0x1000),            // beyond the Service VM's map
    ] {
        assert_eq!(env.set_regions(vm, &[r]), EINVAL64, "{r:?}");
    }
    assert_eq!(
        env.set_regions(vm, &[add(0x10_0000, BACKING, 0x10_0000)]),
        0
    );
    for r in [
        add(0x10_0000, BACKING + 0x20_0000, 0x1000),
        add(0xf_f000, BACKING + 0x20_0000, 0x2000),
    ] {
        assert_eq!(env.set_regions(vm, &[r]), EINVAL64, "overlap {r:?}");
    }
    assert_eq!(env.vms.vm(vm).unwrap().regions.len(), 1);
}

#[test]
fn mmio_only_uncached() {
    let mut env = Env::new();
    let vm = env.create_ok("a");
    let mut mmio = add(0xc000_0000, 0xfec0_0000, 0x1000);
    assert_eq!(env.set_regions(vm, &[mmio]), EINVAL64); // WB on MMIO
    mmio.prot = hv::MEM_ACCESS_READ | hv::MEM_ACCESS_WRITE | hv::MEM_TYPE_UC;
    assert_eq!(env.set_regions(vm, &[mmio]), 0);
    let t = env.arch.npts[usize::from(vm)]
        .as_ref()
        .unwrap()
        .translate(&env.arch.frames, 0xc000_0000)
        .unwrap();
    assert_eq!(
        (t.attr.mem_type, t.attr.write, t.attr.exec),
        (MemType::Uc, true, false)
    );
}

#[test]
fn delete_rules() {
    let mut env = Env::new();
    let vm = env.create_ok("a");
    assert_eq!(env.set_regions(vm, &[add(0, BACKING, 0x40_0000)]), 0);
    // DEL of an absent (or partly absent) range: -EINVAL (ept_is_valid_mr on the target).
    assert_eq!(env.set_regions(vm, &[del(0x40_0000, 0x1000)]), EINVAL64);
    assert_eq!(env.set_regions(vm, &[del(0x3f_f000, 0x2000)]), EINVAL64);
    assert_eq!(env.set_regions(vm, &[del(0x1000, 0x800)]), EINVAL64);
    // A hole in the middle splits the 2 MiB leaf and the region.
    assert_eq!(env.set_regions(vm, &[del(0x10_0000, 0x1000)]), 0);
    assert_eq!(env.arch.translate(vm, 0x10_0000), None);
    assert_eq!(env.arch.translate(vm, 0xf_ffff), Some(BACKING + 0xf_ffff));
    assert_eq!(env.arch.translate(vm, 0x10_1000), Some(BACKING + 0x10_1000));
    assert_eq!(env.vms.vm(vm).unwrap().regions.len(), 2);
    assert_eq!(env.set_regions(vm, &[del(0x10_0000, 0x1000)]), EINVAL64);
    // ACRN treats every non-ADD type as delete, MR_MODIFY included.
    let modify = hv::VmMemoryRegion {
        r#type: hv::MR_MODIFY,
        ..del(0, 0x10_0000)
    };
    assert_eq!(env.set_regions(vm, &[modify]), 0);
    assert_eq!(env.arch.translate(vm, 0), None);
    assert_eq!(env.set_regions(vm, &[del(0x10_1000, 0x2f_f000)]), 0);
    assert!(env.vms.vm(vm).unwrap().regions.is_empty());
    assert_eq!(env.arch.frames.in_use, 1); // empty tables were freed
    assert_eq!(env.set_regions(vm, &[del(0, 0)]), 0);
}

#[test]
fn batch_semantics_and_targets() {
    let mut env = Env::new();
    let vm = env.create_ok("a");
    // Entries apply in order; the first failure is returned, earlier ones stay.
    let batch = [
        add(0, BACKING, 0x1000),
        add(0x1000, HV_BASE, 0x1000),
        add(0x2000, BACKING + 0x2000, 0x1000),
    ];
    assert_eq!(env.set_regions(vm, &batch), EINVAL64);
    assert_eq!(env.arch.translate(vm, 0), Some(BACKING));
    assert_eq!(env.arch.translate(vm, 0x2000), None);
    // Empty batch: ACRN's initial -1.
    assert_eq!(env.set_regions(vm, &[]), EPERM64);
    // The Service VM and free slots are no targets; ids beyond the table have none at all.
    assert_eq!(env.set_regions(0, &[add(0, BACKING, 0x1000)]), EPERM64);
    assert_eq!(env.set_regions(4, &[add(0, BACKING, 0x1000)]), EPERM64);
    assert_eq!(
        env.set_regions(8, &[add(0, BACKING, 0x1000)]),
        -i64::from(ENOTTY)
    );
    // Unreadable header: parse_target_vm fails, -ENOTTY; unreadable entry: -1.
    assert_eq!(
        env.hc(hv::HC_VM_SET_MEMORY_REGIONS, HV_BASE, 0),
        -i64::from(ENOTTY)
    );
    for (i, w) in [u64::from(vm), 2, 0x9_f000 - 32].iter().enumerate() {
        env.mem.write_obj(ARG + 8 * i as u64, w).unwrap();
    }
    env.mem
        .write_obj(0x9_f000 - 32, &add(0x5000, BACKING + 0x5000, 0x1000))
        .unwrap();
    assert_eq!(env.hc(hv::HC_VM_SET_MEMORY_REGIONS, ARG, 0), EPERM64);
    assert_eq!(env.arch.translate(vm, 0x5000), Some(BACKING + 0x5000));
    // Works in any state but powered off, running included.
    assert_eq!(env.set_ioreq(vm, 0x30_0000), 0);
    assert_eq!(env.hc(hv::HC_START_VM, vm.into(), 0), 0);
    assert_eq!(
        env.set_regions(vm, &[add(0x8000, BACKING + 0x8000, 0x1000)]),
        0
    );
}

#[test]
fn no_access_region_is_recorded_but_not_mapped() {
    let mut env = Env::new();
    let vm = env.create_ok("a");
    let r = hv::VmMemoryRegion {
        prot: hv::MEM_TYPE_WB,
        ..add(0, BACKING, 0x1000)
    };
    assert_eq!(env.set_regions(vm, &[r]), 0);
    assert_eq!(env.arch.translate(vm, 0), None);
    assert_eq!(env.vms.vm(vm).unwrap().regions.len(), 1);
    assert_eq!(env.set_regions(vm, &[del(0, 0x1000)]), 0);
}
