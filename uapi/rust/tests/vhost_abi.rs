// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note

//! ABI check of `acrn_uapi::vhost` against the Linux tree's `include/uapi/linux/vhost.h`:
//! a C probe prints every size, offset, ioctl number and feature bit of the table below,
//! compiled against the tree's headers (not the host's), and each must equal the Rust value.

mod common;

use acrn_uapi::vhost::*;
use core::mem::{offset_of, size_of};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

/// `(C expression, Rust value)` for every item.
fn table() -> Vec<(String, u64)> {
    let mut t: Vec<(String, u64)> = Vec::new();
    macro_rules! size {
        ($c:literal, $r:ty) => {
            t.push((format!("sizeof(struct {})", $c), size_of::<$r>() as u64))
        };
    }
    macro_rules! off {
        ($c:literal, $r:ty, $($f:ident),+) => {
            $(t.push((
                format!("offsetof(struct {}, {})", $c, stringify!($f).trim_start_matches("r#")),
                offset_of!($r, $f) as u64,
            ));)+
        };
    }
    macro_rules! val {
        ($($n:ident),+) => {
            $(t.push((stringify!($n).to_string(), $n as u64));)+
        };
    }
    size!("vhost_vring_state", VhostVringState);
    off!("vhost_vring_state", VhostVringState, index, num);
    size!("vhost_vring_file", VhostVringFile);
    off!("vhost_vring_file", VhostVringFile, index, fd);
    size!("vhost_vring_addr", VhostVringAddr);
    off!(
        "vhost_vring_addr",
        VhostVringAddr,
        index,
        flags,
        desc_user_addr,
        used_user_addr,
        avail_user_addr,
        log_guest_addr
    );
    size!("vhost_memory_region", VhostMemoryRegion);
    off!(
        "vhost_memory_region",
        VhostMemoryRegion,
        guest_phys_addr,
        memory_size,
        userspace_addr,
        flags_padding
    );
    size!("vhost_memory", VhostMemory);
    size!("virtio_blk_outhdr", VirtioBlkOuthdr);
    off!("virtio_blk_outhdr", VirtioBlkOuthdr, r#type, ioprio, sector);
    size!(
        "virtio_blk_discard_write_zeroes",
        VirtioBlkDiscardWriteZeroes
    );
    off!(
        "virtio_blk_discard_write_zeroes",
        VirtioBlkDiscardWriteZeroes,
        sector,
        num_sectors,
        flags
    );
    off!("vhost_memory", VhostMemory, nregions, padding);
    val!(
        VHOST_VIRTIO,
        VHOST_VRING_F_LOG,
        VHOST_GET_FEATURES,
        VHOST_SET_FEATURES,
        VHOST_SET_OWNER,
        VHOST_RESET_OWNER,
        VHOST_SET_MEM_TABLE,
        VHOST_SET_LOG_BASE,
        VHOST_SET_LOG_FD,
        VHOST_SET_VRING_NUM,
        VHOST_SET_VRING_ADDR,
        VHOST_SET_VRING_BASE,
        VHOST_GET_VRING_BASE,
        VHOST_SET_VRING_KICK,
        VHOST_SET_VRING_CALL,
        VHOST_SET_VRING_ERR,
        VHOST_SET_BACKEND_FEATURES,
        VHOST_GET_BACKEND_FEATURES,
        VHOST_NET_SET_BACKEND,
        VIRTIO_NET_F_MRG_RXBUF,
        VIRTIO_F_NOTIFY_ON_EMPTY,
        VHOST_F_LOG_ALL,
        VIRTIO_F_ANY_LAYOUT,
        VHOST_NET_F_VIRTIO_NET_HDR,
        VIRTIO_RING_F_INDIRECT_DESC,
        VIRTIO_RING_F_EVENT_IDX,
        VIRTIO_F_VERSION_1,
        VIRTIO_F_ACCESS_PLATFORM,
        VIRTIO_F_RING_PACKED,
        VIRTIO_F_RING_RESET,
        VHOST_BACKEND_F_IOTLB_MSG_V2,
        VHOST_BLK_SET_BACKEND,
        VHOST_BLK_VQ_MAX,
        VIRTIO_BLK_F_SIZE_MAX,
        VIRTIO_BLK_F_SEG_MAX,
        VIRTIO_BLK_F_RO,
        VIRTIO_BLK_F_BLK_SIZE,
        VIRTIO_BLK_F_FLUSH,
        VIRTIO_BLK_F_MQ,
        VIRTIO_BLK_F_DISCARD,
        VIRTIO_BLK_F_WRITE_ZEROES,
        VIRTIO_BLK_T_IN,
        VIRTIO_BLK_T_OUT,
        VIRTIO_BLK_T_FLUSH,
        VIRTIO_BLK_T_GET_ID,
        VIRTIO_BLK_T_DISCARD,
        VIRTIO_BLK_T_WRITE_ZEROES,
        VIRTIO_BLK_S_OK,
        VIRTIO_BLK_S_IOERR,
        VIRTIO_BLK_S_UNSUPP,
        VIRTIO_BLK_ID_BYTES,
        VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP
    );
    t.push(("SECTOR_SIZE".into(), VIRTIO_BLK_SECTOR_SIZE));
    // VHOST_FILE_UNBIND is -1: compare as an unsigned 64-bit pattern.
    t.push((
        "(long long)VHOST_FILE_UNBIND".into(),
        VHOST_FILE_UNBIND as i64 as u64,
    ));
    t
}

/// The parts of `scripts/headers_install.sh` these headers need: drop the kernel-internal
/// compiler includes and the sparse annotations.
fn headers_install(text: &str) -> String {
    text.lines()
        .filter(|l| {
            !l.starts_with("#include <linux/compiler.h>")
                && !l.starts_with("#include <linux/compiler_types.h>")
        })
        .map(|l| {
            l.replace("__user ", "")
                .replace("__force ", "")
                .replace("__iomem ", "")
                .replace("__attribute_const__", "")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Linux tree's uapi headers the probe must take from the tree.
const TREE_HEADERS: [&str; 8] = [
    "vhost.h",
    "vhost_types.h",
    "virtio_config.h",
    "virtio_ring.h",
    "virtio_net.h",
    "virtio_types.h",
    "virtio_ids.h",
    "virtio_blk.h",
];

/// Our header (`uapi/linux/`) the probe takes, beside the tree's.
const OUR_HEADER: &str = "vhost_blk.h";

#[test]
fn vhost_uapi_matches_kernel_header() {
    let ksrc = common::kernel_src();
    let uapi = ksrc.join("include/uapi");
    assert!(
        uapi.join("linux/vhost.h").is_file(),
        "{}: no linux/vhost.h",
        uapi.display()
    );
    let table = table();

    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("vhost-probe-{}", std::process::id()));
    // The tree's vhost and virtio headers, copied ahead of the host's: the raw tree can not
    // be used from userspace without `make headers_install`, but these need no sanitising;
    // the generic ones (types, ioctl, if_ether) come from the host.
    let inc = dir.join("include/linux");
    fs::create_dir_all(&inc).unwrap();
    for h in TREE_HEADERS {
        let text = fs::read_to_string(uapi.join("linux").join(h))
            .unwrap_or_else(|e| panic!("read {h} from {}: {e}", uapi.display()));
        fs::write(inc.join(h), headers_install(&text)).unwrap();
    }
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("../linux");
    fs::copy(ours.join(OUR_HEADER), inc.join(OUR_HEADER)).unwrap();
    let mut src = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n#include <linux/vhost.h>\n\
         #include <linux/vhost_blk.h>\n#include <linux/virtio_blk.h>\n\
         #ifndef SECTOR_SIZE\n#define SECTOR_SIZE 512\n#endif\n\
         #include <linux/virtio_config.h>\n#include <linux/virtio_net.h>\n\
         #include <linux/virtio_ring.h>\nint main(void)\n{\n",
    );
    for (i, (expr, _)) in table.iter().enumerate() {
        src.push_str(&format!(
            "\tprintf(\"{i} %llu\\n\", (unsigned long long)({expr}));\n"
        ));
    }
    src.push_str("\treturn 0;\n}\n");
    let c = dir.join("probe.c");
    let exe = dir.join("probe");
    fs::write(&c, src).unwrap();
    // `-H` lists every header included, to prove the tree's copies were used.
    let out = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .arg("-I")
        .arg(dir.join("include"))
        .args(["-H", "-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg(&c)
        .output()
        .expect("run cc");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "probe failed to compile:\n{stderr}");
    for h in TREE_HEADERS.iter().chain([&OUR_HEADER]) {
        let copy = inc.join(h);
        assert!(
            stderr
                .lines()
                .any(|l| l.trim_start_matches('.').trim() == copy.to_str().unwrap()),
            "the probe did not include the tree's {h}:\n{stderr}"
        );
    }
    let out = Command::new(&exe).output().expect("run probe");
    assert!(out.status.success());
    let c_values: BTreeMap<usize, u64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (i, v) = l.split_once(' ').unwrap();
            (i.parse().unwrap(), v.parse().unwrap())
        })
        .collect();
    let _ = fs::remove_dir_all(&dir);

    let errors: Vec<String> = table
        .iter()
        .enumerate()
        .filter(|(i, (_, rust))| c_values.get(i) != Some(rust))
        .map(|(i, (expr, rust))| format!("{expr}: C {:?}, Rust {rust}", c_values.get(&i)))
        .collect();
    assert!(
        errors.is_empty(),
        "vhost ABI mismatches:\n{}",
        errors.join("\n")
    );
    assert_eq!(c_values.len(), table.len());
}
