// SPDX-License-Identifier: GPL-2.0

//! Nested page tables against a `Vec` of frames.

use super::*;
use crate::error::{EINVAL, ENOMEM};
use crate::memory::{MemAttr, MemType, GPA_LIMIT, SIZE_1G, SIZE_2M};
use crate::npt::{map_service_vm, EptFormat, PteFormat, Translation};

fn tr(npt: &NestedPageTable<NptFormat>, f: &VecFrames, gpa: u64) -> Option<(u64, PageSize)> {
    npt.translate(f, gpa).map(|t| (t.hpa, t.size))
}

#[test]
fn map_translate_unmap_4k() {
    let mut f = VecFrames::new(64);
    let mut npt = NestedPageTable::<NptFormat>::new(&mut f).unwrap();
    npt.map(
        &mut f,
        0x5000,
        0x9_9000,
        0x2000,
        MemAttr::RWX_WB,
        PageSize::Size1G,
    )
    .unwrap();
    assert_eq!(tr(&npt, &f, 0x4fff), None);
    assert_eq!(tr(&npt, &f, 0x5000), Some((0x9_9000, PageSize::Size4K)));
    assert_eq!(tr(&npt, &f, 0x6fff), Some((0x9_afff, PageSize::Size4K)));
    assert_eq!(tr(&npt, &f, 0x7000), None);
    assert_eq!(npt.table_frames(), 4);
    npt.unmap(&mut f, 0x5000, 0x1000).unwrap();
    assert_eq!(tr(&npt, &f, 0x5000), None);
    assert_eq!(tr(&npt, &f, 0x6000), Some((0x9_a000, PageSize::Size4K)));
    npt.unmap(&mut f, 0x6000, 0x1000).unwrap();
    assert_eq!(npt.table_frames(), 1);
    npt.destroy(&mut f);
    assert_eq!(f.in_use, 0);
}

#[test]
fn huge_pages_when_aligned() {
    let mut f = VecFrames::new(64);
    let mut npt = NestedPageTable::<NptFormat>::new(&mut f).unwrap();
    // [1G - 4K, 3G + 2M + 4K): 4K head, 1G, 1G, 2M, 4K tail.
    let gpa = SIZE_1G - 0x1000;
    let size = 2 * SIZE_1G + SIZE_2M + 0x2000;
    npt.map(
        &mut f,
        gpa,
        gpa + 0x10_0000_0000,
        size,
        MemAttr::RWX_WB,
        PageSize::Size1G,
    )
    .unwrap();
    let off = 0x10_0000_0000;
    assert_eq!(tr(&npt, &f, gpa), Some((gpa + off, PageSize::Size4K)));
    assert_eq!(
        tr(&npt, &f, SIZE_1G),
        Some((SIZE_1G + off, PageSize::Size1G))
    );
    assert_eq!(
        tr(&npt, &f, 3 * SIZE_1G - 1),
        Some((3 * SIZE_1G - 1 + off, PageSize::Size1G))
    );
    assert_eq!(
        tr(&npt, &f, 3 * SIZE_1G),
        Some((3 * SIZE_1G + off, PageSize::Size2M))
    );
    assert_eq!(
        tr(&npt, &f, 3 * SIZE_1G + SIZE_2M),
        Some((3 * SIZE_1G + SIZE_2M + off, PageSize::Size4K))
    );
    assert_eq!(tr(&npt, &f, gpa + size), None);
    assert_eq!(tr(&npt, &f, gpa - 1), None);
    // Limited to 2M leaves.
    let mut npt2 = NestedPageTable::<NptFormat>::new(&mut f).unwrap();
    npt2.map(&mut f, 0, 0, SIZE_1G, MemAttr::RWX_WB, PageSize::Size2M)
        .unwrap();
    assert_eq!(
        tr(&npt2, &f, SIZE_1G - 1),
        Some((SIZE_1G - 1, PageSize::Size2M))
    );
    // Guest and host alignment differ: 4K leaves only.
    let mut npt3 = NestedPageTable::<NptFormat>::new(&mut f).unwrap();
    npt3.map(
        &mut f,
        SIZE_2M,
        0x1000,
        SIZE_2M,
        MemAttr::RWX_WB,
        PageSize::Size1G,
    )
    .unwrap();
    assert_eq!(tr(&npt3, &f, SIZE_2M), Some((0x1000, PageSize::Size4K)));
    assert_eq!(npt3.table_frames(), 4);
    for n in [npt, npt2, npt3] {
        n.destroy(&mut f);
    }
    assert_eq!(f.in_use, 0);
}

#[test]
fn partial_unmap_splits_huge_pages() {
    let mut f = VecFrames::new(64);
    let mut npt = NestedPageTable::<NptFormat>::new(&mut f).unwrap();
    let attr = MemAttr {
        exec: false,
        ..MemAttr::rwx(MemType::Wc)
    };
    npt.map(&mut f, 0, 0x4000_0000, SIZE_1G, attr, PageSize::Size1G)
        .unwrap();
    assert_eq!(npt.table_frames(), 2);
    npt.unmap(&mut f, SIZE_2M + 0x3000, 0x1000).unwrap();
    // 1G → 512 × 2M, the second 2M → 512 × 4K.
    assert_eq!(npt.table_frames(), 4);
    assert_eq!(tr(&npt, &f, SIZE_2M + 0x3000), None);
    let t = npt.translate(&f, SIZE_2M + 0x2fff).unwrap();
    assert_eq!(
        t,
        Translation {
            hpa: 0x4000_0000 + SIZE_2M + 0x2fff,
            attr,
            size: PageSize::Size4K
        }
    );
    assert_eq!(npt.translate(&f, SIZE_1G - 1).unwrap().attr, attr);
    assert_eq!(tr(&npt, &f, 0), Some((0x4000_0000, PageSize::Size2M)));
    // Remapping the hole restores the page; a whole-entry map over a table frees it.
    npt.map(
        &mut f,
        SIZE_2M,
        0x4000_0000 + SIZE_2M,
        SIZE_2M,
        attr,
        PageSize::Size1G,
    )
    .unwrap();
    assert_eq!(npt.table_frames(), 3);
    npt.map(
        &mut f,
        0,
        0x4000_0000,
        SIZE_1G,
        MemAttr::RWX_UC,
        PageSize::Size1G,
    )
    .unwrap();
    assert_eq!(npt.table_frames(), 2);
    assert_eq!(npt.translate(&f, 5).unwrap().attr, MemAttr::RWX_UC);
    npt.unmap(&mut f, 0, SIZE_1G).unwrap();
    assert_eq!(npt.table_frames(), 1);
    npt.destroy(&mut f);
    assert_eq!(f.in_use, 0);
}

#[test]
fn argument_checks_and_enomem() {
    let mut f = VecFrames::new(3);
    let mut npt = NestedPageTable::<NptFormat>::new(&mut f).unwrap();
    let e = |r: HvResult| r.unwrap_err().errno;
    assert_eq!(
        e(npt.map(&mut f, 0x800, 0, 0x1000, MemAttr::RWX_WB, PageSize::Size4K)),
        -EINVAL
    );
    assert_eq!(
        e(npt.map(&mut f, 0, 0x800, 0x1000, MemAttr::RWX_WB, PageSize::Size4K)),
        -EINVAL
    );
    assert_eq!(
        e(npt.map(&mut f, 0, 0, 0x800, MemAttr::RWX_WB, PageSize::Size4K)),
        -EINVAL
    );
    assert_eq!(
        e(npt.map(
            &mut f,
            GPA_LIMIT - 0x1000,
            0,
            0x2000,
            MemAttr::RWX_WB,
            PageSize::Size4K
        )),
        -EINVAL
    );
    assert_eq!(
        e(npt.map(
            &mut f,
            0,
            1 << 52,
            0x1000,
            MemAttr::RWX_WB,
            PageSize::Size4K
        )),
        -EINVAL
    );
    assert_eq!(e(npt.unmap(&mut f, !0xfffu64, 0x2000)), -EINVAL);
    assert_eq!(npt.translate(&f, GPA_LIMIT), None);
    // Needs PDPT, PD and PT below the root: only two frames left.
    assert_eq!(
        e(npt.map(&mut f, 0, 0, 0x1000, MemAttr::RWX_WB, PageSize::Size4K)),
        -ENOMEM
    );
    // A 2M mapping fits, and a failing map leaves nothing behind.
    npt.map(&mut f, 0, 0, SIZE_2M, MemAttr::RWX_WB, PageSize::Size2M)
        .unwrap();
    assert_eq!(
        e(npt.map(
            &mut f,
            4 * SIZE_2M,
            0,
            2 * SIZE_2M + 0x1000,
            MemAttr::RWX_WB,
            PageSize::Size2M
        )),
        -ENOMEM
    );
    assert_eq!(tr(&npt, &f, 4 * SIZE_2M), None);
    assert_eq!(tr(&npt, &f, 0), Some((0, PageSize::Size2M)));
    // Splitting for a partial unmap needs a frame too.
    assert_eq!(e(npt.unmap(&mut f, 0, 0x1000)), -ENOMEM);
    npt.destroy(&mut f);
    assert_eq!(f.in_use, 0);
}

#[test]
fn entry_formats() {
    let wb = MemAttr::RWX_WB;
    let ro_wc = MemAttr {
        write: false,
        exec: false,
        ..MemAttr::rwx(MemType::Wc)
    };
    // NPT: P, U/S always; NX when not executable; PAT index in PWT/PCD/PAT.
    let e = NptFormat::leaf(0x1234_5000, wb, PageSize::Size4K);
    assert_eq!(e, 0x1234_5000 | 0b111);
    let e = NptFormat::leaf(0x4000_0000, ro_wc, PageSize::Size2M);
    assert_eq!(e, 0x4000_0000 | 1 << 63 | 1 << 12 | 1 << 7 | 0b101);
    assert_eq!(
        NptFormat::attr(e, PageSize::Size2M),
        MemAttr {
            read: true,
            ..ro_wc
        }
    );
    let e = NptFormat::leaf(0x6000, ro_wc, PageSize::Size4K);
    assert_eq!(e & 0x1098, 1 << 7); // PAT bit 7 at 4K, not 12
    assert_eq!(
        NptFormat::leaf(0x5000, MemAttr::RWX_UC, PageSize::Size4K) & 0x18,
        0x18
    );
    assert_eq!(NptFormat::table(0x7000) & 0x7, 0x7);
    // EPT: R/W/X, memory type in 5:3, bit 7 for large pages; write implies read.
    assert_eq!(
        EptFormat::leaf(0x1000, wb, PageSize::Size4K),
        0x1000 | 6 << 3 | 0b111
    );
    assert_eq!(
        EptFormat::leaf(0x20_0000, ro_wc, PageSize::Size2M),
        0x20_0000 | 1 << 7 | 1 << 3 | 1
    );
    let wo = MemAttr {
        read: false,
        exec: false,
        ..MemAttr::rwx(MemType::Uc)
    };
    assert_eq!(
        EptFormat::leaf(0x1000, wo, PageSize::Size4K),
        0x1000 | 0b011
    );
    let xo = MemAttr {
        read: false,
        write: false,
        ..MemAttr::rwx(MemType::Wb)
    };
    assert_eq!(
        EptFormat::attr(
            EptFormat::leaf(0x1000, xo, PageSize::Size4K),
            PageSize::Size4K
        ),
        xo
    );
    let none = MemAttr {
        read: false,
        write: false,
        exec: false,
        mem_type: MemType::Wb,
    };
    assert_eq!(NptFormat::leaf(0x1000, none, PageSize::Size4K), 0);
    assert_eq!(EptFormat::leaf(0x1000, none, PageSize::Size4K), 0);
    assert_eq!(EptFormat::eptp(0x12_3000), 0x12_3000 | 0x1e);
}

#[test]
fn ept_flavour_walks_the_same() {
    let mut f = VecFrames::new(16);
    let mut npt = NestedPageTable::<EptFormat>::new(&mut f).unwrap();
    npt.map(
        &mut f,
        SIZE_1G,
        0,
        SIZE_1G + SIZE_2M,
        MemAttr::RWX_WB,
        PageSize::Size1G,
    )
    .unwrap();
    assert_eq!(
        npt.translate(&f, SIZE_1G + 5).map(|t| (t.hpa, t.size)),
        Some((5, PageSize::Size1G))
    );
    let t = npt.translate(&f, 2 * SIZE_1G + 7).unwrap();
    assert_eq!(
        (t.hpa, t.size, t.attr),
        (SIZE_1G + 7, PageSize::Size2M, MemAttr::RWX_WB)
    );
    npt.unmap(&mut f, SIZE_1G + SIZE_2M, 0x1000).unwrap();
    assert_eq!(npt.translate(&f, SIZE_1G + SIZE_2M), None);
    npt.destroy(&mut f);
    assert_eq!(f.in_use, 0);
}

#[test]
fn service_vm_identity_map_skips_hypervisor_memory() {
    let svc_mem = service_vm_memory();
    let mut f = VecFrames::new(64);
    let mut npt = NestedPageTable::<NptFormat>::new(&mut f).unwrap();
    map_service_vm(&mut npt, &mut f, &svc_mem, PageSize::Size1G).unwrap();
    let t = |a: u64| npt.translate(&f, a);
    for a in [
        0,
        0x9_efff,
        0x10_0000,
        HV_BASE - 1,
        HV_BASE + HV_SIZE,
        0x7fff_ffff,
        0x1_3fff_ffff,
    ] {
        let x = t(a).unwrap();
        assert_eq!((x.hpa, x.attr.mem_type), (a, MemType::Wb), "{a:#x}");
    }
    for a in [
        0x9_f000,
        0xa_0000,
        0x8000_0000,
        0xfec0_0000,
        0xfee0_0000,
        0xffff_ffff,
    ] {
        let x = t(a).unwrap();
        assert_eq!((x.hpa, x.attr.mem_type), (a, MemType::Uc), "{a:#x}");
    }
    for a in [
        HV_BASE,
        HV_BASE + HV_SIZE - 1,
        svc_mem.top(),
        0x10_0000_0000,
    ] {
        assert_eq!(t(a), None, "{a:#x}");
    }
    // Huge pages where aligned: 2 GiB of MMIO hole as two 1G leaves, RAM above 4G as one.
    assert_eq!(t(0x8000_0000).unwrap().size, PageSize::Size1G);
    assert_eq!(t(0x1_0000_0000).unwrap().size, PageSize::Size1G);
    assert_eq!(t(HV_BASE + HV_SIZE).unwrap().size, PageSize::Size2M);
    assert!(npt.table_frames() <= 8, "{}", npt.table_frames());
    npt.destroy(&mut f);
    assert_eq!(f.in_use, 0);
}
