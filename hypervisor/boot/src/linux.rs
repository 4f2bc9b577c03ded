// SPDX-License-Identifier: GPL-2.0

//! The Linux/x86 boot protocol, 64-bit entry (`Documentation/arch/x86/boot.rst`): what the
//! hypervisor needs to start the Service VM kernel directly, without firmware.
//!
//! 1. [`parse_bzimage`] checks the setup header ("HdrS", protocol ≥ 2.12, 64-bit entry
//!    supported, loaded high) and finds the protected-mode kernel.
//! 2. The protected-mode kernel is copied to its preferred address (the test kernel is not
//!    relocatable); its 64-bit entry point is 0x200 bytes in.
//! 3. [`build_zero_page`] fills `struct boot_params`: the setup header, loader type,
//!    command line, initramfs and the e820 map.
//! 4. [`boot_page_tables`] and [`BOOT_GDT`] give the long-mode environment the protocol
//!    requires: an identity map (here of 4 GiB), `__BOOT_CS` = 0x10 and `__BOOT_DS` = 0x18,
//!    interrupts off, RSI = the zero page.
//!
//! All structures go into a boot block in low Service VM RAM ([`BootLayout`]), which Linux
//! copies or discards early.

use acrn_hv_core::memory::E820Entry;

/// Offset of the setup header in the image and in `boot_params`.
pub const SETUP_HEADER: usize = 0x1f1;
const HDRS_MAGIC: u32 = 0x5372_6448; // "HdrS"
const XLF_KERNEL_64: u16 = 1 << 0;
const LOADED_HIGH: u8 = 1 << 0;
/// Offset of the 64-bit entry point in the protected-mode kernel.
pub const ENTRY_64: u64 = 0x200;
/// Most e820 entries in `boot_params`.
pub const E820_MAX: usize = 128;
/// Code selector the 64-bit entry expects.
pub const BOOT_CS: u16 = 0x10;
/// Data selector the 64-bit entry expects.
pub const BOOT_DS: u16 = 0x18;

/// The GDT given to the kernel: null, null, 64-bit code (0x10), data (0x18).
pub const BOOT_GDT: [u64; 4] = [0, 0, 0x00af_9b00_0000_ffff, 0x00cf_9300_0000_ffff];

/// Why a bzImage is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinuxError {
    /// Too short, or no "HdrS".
    NotBzImage,
    /// Boot protocol older than 2.12 (no `xloadflags`).
    TooOld(u16),
    /// No 64-bit entry point (`XLF_KERNEL_64` clear) or not loaded high.
    No64BitEntry,
}

/// What the hypervisor needs from a bzImage's setup header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel {
    /// Boot protocol version (e.g. 0x20f).
    pub version: u16,
    /// Offset of the protected-mode kernel in the file.
    pub pm_offset: usize,
    /// Size of the protected-mode kernel.
    pub pm_size: usize,
    /// Where the kernel wants to be loaded (`pref_address`).
    pub pref_address: u64,
    /// Memory the kernel needs from its load address on while it decompresses.
    pub init_size: u64,
    /// Whether it may be loaded elsewhere than `pref_address`.
    pub relocatable: bool,
    /// Highest address the initramfs may end at (`initrd_addr_max`).
    pub initrd_addr_max: u64,
    /// Longest command line, NUL excluded (`cmdline_size`).
    pub cmdline_size: u32,
    header_end: usize,
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from(u32_at(b, off)) | (u64::from(u32_at(b, off + 4)) << 32)
}

/// Parses the setup header of `img` (a whole bzImage).
pub fn parse_bzimage(img: &[u8]) -> Result<Kernel, LinuxError> {
    if img.len() < 0x268 || u32_at(img, 0x202) != HDRS_MAGIC {
        return Err(LinuxError::NotBzImage);
    }
    let version = u16_at(img, 0x206);
    if version < 0x20c {
        return Err(LinuxError::TooOld(version));
    }
    if u16_at(img, 0x236) & XLF_KERNEL_64 == 0 || img[0x211] & LOADED_HIGH == 0 {
        return Err(LinuxError::No64BitEntry);
    }
    let setup_sects = match img[0x1f1] {
        0 => 4,
        n => usize::from(n),
    };
    let pm_offset = (setup_sects + 1) * 512;
    if pm_offset >= img.len() {
        return Err(LinuxError::NotBzImage);
    }
    let header_end = (0x202 + usize::from(img[0x201])).min(0x290);
    Ok(Kernel {
        version,
        pm_offset,
        pm_size: img.len() - pm_offset,
        pref_address: u64_at(img, 0x258),
        init_size: u64::from(u32_at(img, 0x260)),
        relocatable: img[0x234] != 0,
        initrd_addr_max: u64::from(u32_at(img, 0x22c)),
        cmdline_size: u32_at(img, 0x238),
        header_end,
    })
}

/// Where the boot structures go, all in Service VM RAM below 1 MiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootLayout {
    /// `struct boot_params` (4 KiB).
    pub zero_page: u64,
    /// The command line (4 KiB, NUL terminated).
    pub cmdline: u64,
    /// [`BOOT_GDT`].
    pub gdt: u64,
    /// PML4, PDPT, then 4 page directories: 6 pages.
    pub page_tables: u64,
}

impl BootLayout {
    /// The boot block at 0x80000..0x89000 (below the EBDA and Linux's decompressor
    /// trampoline, which it takes from the top of low memory).
    pub const LOW: Self = Self {
        zero_page: 0x8_0000,
        cmdline: 0x8_1000,
        gdt: 0x8_2000,
        page_tables: 0x8_3000,
    };

    /// One past the last byte used.
    pub const fn end(&self) -> u64 {
        self.page_tables + 6 * 0x1000
    }
}

/// Builds `boot_params` in `zp` for kernel `k` of image `img`.
pub fn build_zero_page(
    zp: &mut [u8; 4096],
    img: &[u8],
    k: &Kernel,
    cmdline_pa: u64,
    initrd: Option<(u64, u64)>,
    e820: &[E820Entry],
) {
    zp.fill(0);
    zp[SETUP_HEADER..k.header_end].copy_from_slice(&img[SETUP_HEADER..k.header_end]);
    zp[0x210] = 0xff; // type_of_loader: undefined
    zp[0x228..0x22c].copy_from_slice(&(cmdline_pa as u32).to_le_bytes());
    zp[0x0c8..0x0cc].copy_from_slice(&((cmdline_pa >> 32) as u32).to_le_bytes());
    let (rd, rd_size) = initrd.unwrap_or((0, 0));
    zp[0x218..0x21c].copy_from_slice(&(rd as u32).to_le_bytes());
    zp[0x21c..0x220].copy_from_slice(&(rd_size as u32).to_le_bytes());
    zp[0x0c0..0x0c4].copy_from_slice(&((rd >> 32) as u32).to_le_bytes());
    zp[0x0c4..0x0c8].copy_from_slice(&((rd_size >> 32) as u32).to_le_bytes());
    let n = e820.len().min(E820_MAX);
    zp[0x1e8] = n as u8;
    for (i, e) in e820[..n].iter().enumerate() {
        let at = 0x2d0 + 20 * i;
        zp[at..at + 8].copy_from_slice(&e.addr.to_le_bytes());
        zp[at + 8..at + 16].copy_from_slice(&e.size.to_le_bytes());
        zp[at + 16..at + 20].copy_from_slice(&e.kind.to_le_bytes());
    }
}

/// Writes the Service VM's command line into `out`: `args` (truncated to leave room), then
/// ` nr_cpus=N` with N = the Service VM's vCPUs. Last on the line, it wins over any earlier
/// `nr_cpus=`: Linux then never counts the pCPUs reserved for User VMs as possible, so the
/// ACPI processor objects of those CPUs (which QEMU's DSDT reports as present) cannot be
/// hot-added and onlined. Returns the length written (no NUL).
pub fn service_vm_cmdline(args: &[u8], nr_cpus: u32, out: &mut [u8]) -> usize {
    let mut suffix = [0u8; 24];
    let mut n = 0;
    for &b in b" nr_cpus=" {
        suffix[n] = b;
        n += 1;
    }
    let mut digits = [0u8; 10];
    let (mut v, mut d) = (nr_cpus, 0);
    loop {
        digits[d] = b'0' + (v % 10) as u8;
        d += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in (0..d).rev() {
        suffix[n] = digits[i];
        n += 1;
    }
    let keep = args.len().min(out.len().saturating_sub(n));
    out[..keep].copy_from_slice(&args[..keep]);
    let total = (keep + n).min(out.len());
    out[keep..total].copy_from_slice(&suffix[..total - keep]);
    total
}

/// The entries of the boot page tables at `base` (see [`BootLayout::page_tables`]): an
/// identity map of `[0, 4 GiB)` with 2 MiB pages. Yields (physical address, value).
pub fn boot_page_tables(base: u64) -> impl Iterator<Item = (u64, u64)> {
    const P_RW: u64 = 0x3;
    const LARGE: u64 = 0x80;
    let pdpt = base + 0x1000;
    let pd = base + 0x2000;
    core::iter::once((base, pdpt | P_RW))
        .chain((0..4u64).map(move |i| (pdpt + 8 * i, (pd + 0x1000 * i) | P_RW)))
        .chain((0..2048u64).map(move |i| (pd + 8 * i, (i << 21) | P_RW | LARGE)))
}

/// Where and how a 64-bit guest starts (Linux's 64-bit boot protocol state), for either
/// backend's guest-state setup (SVM `init_vmcb`, VMX `init_vmcs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LongModeEntry {
    /// RIP.
    pub rip: u64,
    /// RSI (Linux: the zero page).
    pub rsi: u64,
    /// CR3 (an identity map covering the kernel and its boot data).
    pub cr3: u64,
    /// GDT base.
    pub gdt_base: u64,
    /// GDT limit.
    pub gdt_limit: u32,
    /// Code selector (64-bit code descriptor in the GDT).
    pub cs: u16,
    /// Data selector.
    pub ds: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Vec<u8> {
        let mut img = vec![0u8; 0x4000];
        img[0x1f1] = 3; // setup_sects
        img[0x201] = 0x66; // header end = 0x268
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        img[0x211] = LOADED_HIGH;
        img[0x22c..0x230].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        img[0x236..0x238].copy_from_slice(&0x21u16.to_le_bytes());
        img[0x238..0x23c].copy_from_slice(&2047u32.to_le_bytes());
        img[0x258..0x260].copy_from_slice(&0x100_0000u64.to_le_bytes());
        img[0x260..0x264].copy_from_slice(&0x341_6000u32.to_le_bytes());
        img
    }

    #[test]
    fn parses_header() {
        let k = parse_bzimage(&image()).unwrap();
        assert_eq!(k.version, 0x20f);
        assert_eq!(k.pm_offset, 0x800);
        assert_eq!(k.pm_size, 0x3800);
        assert_eq!(k.pref_address, 0x100_0000);
        assert_eq!(k.init_size, 0x341_6000);
        assert!(!k.relocatable);
        assert_eq!(k.cmdline_size, 2047);
    }

    #[test]
    fn refuses_bad_images() {
        assert_eq!(parse_bzimage(&[0; 16]), Err(LinuxError::NotBzImage));
        let mut img = image();
        img[0x206] = 0x0b;
        img[0x207] = 0x02;
        assert_eq!(parse_bzimage(&img), Err(LinuxError::TooOld(0x20b)));
        let mut img = image();
        img[0x236] = 0;
        assert_eq!(parse_bzimage(&img), Err(LinuxError::No64BitEntry));
    }

    #[test]
    fn zero_page_fields() {
        let img = image();
        let k = parse_bzimage(&img).unwrap();
        let mut zp = [0xaau8; 4096];
        let e820 = [
            E820Entry {
                addr: 0,
                size: 0x9fc00,
                kind: 1,
            },
            E820Entry {
                addr: 0x10_0000,
                size: 0x1000,
                kind: 2,
            },
        ];
        build_zero_page(
            &mut zp,
            &img,
            &k,
            0x8_1000,
            Some((0x1_2000_0000, 0x1234)),
            &e820,
        );
        assert_eq!(&zp[0x202..0x206], b"HdrS");
        assert_eq!(zp[0x210], 0xff);
        assert_eq!(u32_at(&zp, 0x228), 0x8_1000);
        assert_eq!(u32_at(&zp, 0x218), 0x2000_0000);
        assert_eq!(u32_at(&zp, 0x0c0), 1);
        assert_eq!(u32_at(&zp, 0x21c), 0x1234);
        assert_eq!(zp[0x1e8], 2);
        assert_eq!(u64_at(&zp, 0x2d0 + 20 + 8), 0x1000);
        assert_eq!(u32_at(&zp, 0x2d0 + 20 + 16), 2);
        assert_eq!(zp[0x268], 0, "past the header stays zero");
        assert_eq!(zp[0x1ef], 0, "sentinel zero");
    }

    #[test]
    fn cmdline_gets_nr_cpus_last() {
        let mut out = [0u8; 64];
        let n = service_vm_cmdline(b"console=ttyS0 nr_cpus=8", 1, &mut out);
        assert_eq!(&out[..n], b"console=ttyS0 nr_cpus=8 nr_cpus=1");
        let n = service_vm_cmdline(b"", 12, &mut out);
        assert_eq!(&out[..n], b" nr_cpus=12");
        let mut small = [0u8; 16];
        let n = service_vm_cmdline(b"abcdefghijklmnop", 1, &mut small);
        assert_eq!(&small[..n], b"abcdef nr_cpus=1");
    }

    #[test]
    fn page_tables_identity_map_4g() {
        let base = BootLayout::LOW.page_tables;
        let v: Vec<_> = boot_page_tables(base).collect();
        assert_eq!(v.len(), 1 + 4 + 2048);
        assert_eq!(v[0], (base, (base + 0x1000) | 3));
        assert_eq!(v[4], (base + 0x1000 + 24, (base + 0x5000) | 3));
        assert_eq!(
            *v.last().unwrap(),
            (base + 0x5000 + 8 * 511, 0xffe0_0000 | 0x83)
        );
        assert!(BootLayout::LOW.end() <= 0x9_0000);
    }
}
