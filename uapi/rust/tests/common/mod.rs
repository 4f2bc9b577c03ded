// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note

//! Helpers shared by the ABI tests: where the Linux source tree is.

use std::path::PathBuf;
use std::{env, fs};

/// The unpacked Linux source tree: `$ACRN_KERNEL_SRC`, else the newest `linux-*` directory
/// with a `.unpacked` marker under `${ACRN_RS_CACHE:-$HOME/.cache/acrn-rs}/src`. Panics with
/// what to do when there is none.
pub fn kernel_src() -> PathBuf {
    const HOW: &str = "run `make kernel` or set ACRN_KERNEL_SRC";
    if let Some(p) = env::var_os("ACRN_KERNEL_SRC") {
        let p = PathBuf::from(p);
        assert!(
            p.join("include/uapi/linux/acrn.h").is_file(),
            "ACRN_KERNEL_SRC={} has no include/uapi/linux/acrn.h: {HOW}",
            p.display()
        );
        return p;
    }
    let cache = env::var_os("ACRN_RS_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let base = env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .expect("neither XDG_CACHE_HOME nor HOME is set");
            base.join("acrn-rs")
        });
    let src = cache.join("src");
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for entry in fs::read_dir(&src).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with("linux-") {
            continue;
        }
        let Ok(meta) = fs::metadata(path.join(".unpacked")) else {
            continue;
        };
        let mtime = meta.modified().expect("mtime");
        if best.as_ref().is_none_or(|(t, _)| mtime > *t) {
            best = Some((mtime, path));
        }
    }
    match best {
        Some((_, p)) => p,
        None => panic!(
            "no unpacked Linux source (linux-*/.unpacked) under {}: {HOW}",
            src.display()
        ),
    }
}
