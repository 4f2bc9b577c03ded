// SPDX-License-Identifier: GPL-2.0

//! The multiboot1 information structure: memory map, modules, command line (Multiboot
//! Specification 0.6.96, §3.3). Everything is copied out into [`BootInfo`] right away, so
//! nothing depends on where the loader put it (QEMU: below 1 MiB, module strings after the
//! image).
//!
//! QEMU's `-initrd "a args,b"` gives one module per comma-separated file; the string of a
//! module is its file name followed by the arguments. The Service VM convention is: module 0
//! = bzImage, its arguments = the Linux command line; module 1 = the initramfs (optional).

use crate::phys::PhysMem;
use acrn_hv_core::memory::E820Entry;

/// Most memory-map entries kept (Linux's zero page holds 128).
pub const MAX_MMAP: usize = 128;
/// Most modules kept.
pub const MAX_MODULES: usize = 4;
/// Longest command line kept (Linux's `COMMAND_LINE_SIZE` on x86 is 2048).
pub const MAX_CMDLINE: usize = 2048;

const FLAG_CMDLINE: u32 = 1 << 2;
const FLAG_MODS: u32 = 1 << 3;
const FLAG_MMAP: u32 = 1 << 6;

/// Why the boot information is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MbError {
    /// The structure or a part it points to could not be read.
    Unreadable,
    /// No memory map (flag 6 clear).
    NoMemoryMap,
}

/// A NUL-free byte string of at most [`MAX_CMDLINE`] bytes.
#[derive(Clone, Copy)]
pub struct CmdLine {
    buf: [u8; MAX_CMDLINE],
    len: usize,
}

impl CmdLine {
    /// The empty string.
    pub const fn empty() -> Self {
        Self {
            buf: [0; MAX_CMDLINE],
            len: 0,
        }
    }

    /// From bytes (truncated to [`MAX_CMDLINE`]).
    pub fn from_bytes(b: &[u8]) -> Self {
        let mut c = Self::empty();
        let n = b.len().min(MAX_CMDLINE);
        c.buf[..n].copy_from_slice(&b[..n]);
        c.len = n;
        c
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The text, or `"?"` if it is not UTF-8.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }

    /// Everything after the first space (a module's arguments), leading spaces removed.
    pub fn args(&self) -> &[u8] {
        let b = self.as_bytes();
        match b.iter().position(|&c| c == b' ') {
            Some(i) => {
                let rest = &b[i..];
                let skip = rest.iter().take_while(|&&c| c == b' ').count();
                &rest[skip..]
            }
            None => &[],
        }
    }

    /// The value of `key=value` among the space-separated words.
    pub fn value(&self, key: &str) -> Option<&[u8]> {
        self.as_bytes().split(|&c| c == b' ').find_map(|w| {
            w.strip_prefix(key.as_bytes())
                .and_then(|r| r.strip_prefix(b"="))
        })
    }
}

/// A boot module.
#[derive(Clone, Copy)]
pub struct Module {
    /// Physical start.
    pub start: u64,
    /// Physical end (exclusive).
    pub end: u64,
    /// Its string (file name, then arguments).
    pub cmdline: CmdLine,
}

/// What the loader handed over.
pub struct BootInfo {
    /// Firmware memory map (multiboot types = e820 types).
    pub mmap: [E820Entry; MAX_MMAP],
    /// Entries used in `mmap`.
    pub mmap_len: usize,
    /// Modules.
    pub modules: [Module; MAX_MODULES],
    /// Modules used.
    pub modules_len: usize,
    /// The hypervisor's own command line.
    pub cmdline: CmdLine,
}

impl BootInfo {
    /// The memory map.
    pub fn mmap(&self) -> &[E820Entry] {
        &self.mmap[..self.mmap_len]
    }

    /// The modules.
    pub fn modules(&self) -> &[Module] {
        &self.modules[..self.modules_len]
    }
}

fn read_cstr(mem: &impl PhysMem, pa: u64) -> CmdLine {
    let mut c = CmdLine::empty();
    let mut b = [0u8; 1];
    while c.len < MAX_CMDLINE && mem.read(pa + c.len as u64, &mut b) && b[0] != 0 {
        c.buf[c.len] = b[0];
        c.len += 1;
    }
    c
}

/// Parses the multiboot information at `mbi` into `out` (which is big: pass a `static`).
pub fn parse(mem: &impl PhysMem, mbi: u64, out: &mut BootInfo) -> Result<(), MbError> {
    let rd = |off: u64| mem.read_u32(mbi + off).ok_or(MbError::Unreadable);
    let flags = rd(0)?;
    out.cmdline = if flags & FLAG_CMDLINE != 0 {
        read_cstr(mem, u64::from(rd(16)?))
    } else {
        CmdLine::empty()
    };
    out.modules_len = 0;
    if flags & FLAG_MODS != 0 {
        let (count, addr) = (rd(20)?, u64::from(rd(24)?));
        for i in 0..u64::from(count).min(MAX_MODULES as u64) {
            let m = addr + 16 * i;
            let r = |off| mem.read_u32(m + off).ok_or(MbError::Unreadable);
            out.modules[out.modules_len] = Module {
                start: u64::from(r(0)?),
                end: u64::from(r(4)?),
                cmdline: read_cstr(mem, u64::from(r(8)?)),
            };
            out.modules_len += 1;
        }
    }
    if flags & FLAG_MMAP == 0 {
        return Err(MbError::NoMemoryMap);
    }
    let (len, addr) = (u64::from(rd(44)?), u64::from(rd(48)?));
    out.mmap_len = 0;
    let mut off = 0;
    while off + 24 <= len && out.mmap_len < MAX_MMAP {
        let e = addr + off;
        let size = mem.read_u32(e).ok_or(MbError::Unreadable)?;
        let base = mem.read_u64(e + 4).ok_or(MbError::Unreadable)?;
        let length = mem.read_u64(e + 12).ok_or(MbError::Unreadable)?;
        let kind = mem.read_u32(e + 20).ok_or(MbError::Unreadable)?;
        if length != 0 {
            out.mmap[out.mmap_len] = E820Entry {
                addr: base,
                size: length,
                kind,
            };
            out.mmap_len += 1;
        }
        off += u64::from(size) + 4;
    }
    Ok(())
}

/// An empty [`BootInfo`], for a `static`.
pub const EMPTY_BOOT_INFO: BootInfo = BootInfo {
    mmap: [E820Entry {
        addr: 0,
        size: 0,
        kind: 0,
    }; MAX_MMAP],
    mmap_len: 0,
    modules: [Module {
        start: 0,
        end: 0,
        cmdline: CmdLine::empty(),
    }; MAX_MODULES],
    modules_len: 0,
    cmdline: CmdLine::empty(),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phys::FakePhys;

    fn put32(m: &mut FakePhys, pa: usize, v: u32) {
        m.0[pa..pa + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn put64(m: &mut FakePhys, pa: usize, v: u64) {
        m.0[pa..pa + 8].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn parses_mmap_modules_cmdline() {
        let mut m = FakePhys(vec![0; 0x4000]);
        let mbi = 0x1000;
        put32(&mut m, mbi, FLAG_CMDLINE | FLAG_MODS | FLAG_MMAP);
        put32(&mut m, mbi + 16, 0x2000);
        m.0[0x2000..0x200b].copy_from_slice(b"loglevel=4\0");
        put32(&mut m, mbi + 20, 2);
        put32(&mut m, mbi + 24, 0x2100);
        put32(&mut m, 0x2100, 0x100_0000);
        put32(&mut m, 0x2104, 0x180_0000);
        put32(&mut m, 0x2108, 0x2200);
        put32(&mut m, 0x2110, 0x200_0000);
        put32(&mut m, 0x2114, 0x210_0000);
        put32(&mut m, 0x2118, 0x2300);
        m.0[0x2200..0x2220].copy_from_slice(b"/b/bzImage  console=ttyS0 a=b\0\0\0");
        m.0[0x2300..0x2306].copy_from_slice(b"/b/i\0\0");
        // Two entries plus a zero-length one that is skipped.
        put32(&mut m, mbi + 44, 3 * 24);
        put32(&mut m, mbi + 48, 0x3000);
        for (i, (base, len, kind)) in [
            (0u64, 0x9fc00u64, 1u32),
            (0x10_0000, 0, 1),
            (0x10_0000, 0x7fe0_0000, 1),
        ]
        .into_iter()
        .enumerate()
        {
            let e = 0x3000 + 24 * i;
            put32(&mut m, e, 20);
            put64(&mut m, e + 4, base);
            put64(&mut m, e + 12, len);
            put32(&mut m, e + 20, kind);
        }
        let mut bi = EMPTY_BOOT_INFO;
        parse(&m, mbi as u64, &mut bi).unwrap();
        assert_eq!(bi.cmdline.value("loglevel"), Some(&b"4"[..]));
        assert_eq!(bi.modules().len(), 2);
        assert_eq!(bi.modules()[0].start, 0x100_0000);
        assert_eq!(bi.modules()[0].cmdline.args(), b"console=ttyS0 a=b");
        assert_eq!(bi.modules()[1].cmdline.args(), b"");
        assert_eq!(bi.mmap().len(), 2);
        assert_eq!(bi.mmap()[1].size, 0x7fe0_0000);
    }

    #[test]
    fn no_mmap_is_an_error() {
        let mut m = FakePhys(vec![0; 0x100]);
        put32(&mut m, 0, 0);
        let mut bi = EMPTY_BOOT_INFO;
        assert_eq!(parse(&m, 0, &mut bi).err(), Some(MbError::NoMemoryMap));
        assert_eq!(parse(&m, 0x1000, &mut bi).err(), Some(MbError::Unreadable));
    }
}
