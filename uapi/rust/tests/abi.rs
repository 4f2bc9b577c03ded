// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note

//! ABI check of `acrn_uapi` against C.
//!
//! A C probe, generated from the table below, prints `key value` lines (sizes, alignments,
//! offsets, field sizes and types, constants, ioctl numbers). It is compiled with `cc` twice:
//! once against the Linux tree's `include/uapi/linux/acrn.h` and once against our
//! `uapi/linux/acrn.h`; both outputs must equal the Rust values. The kernel header is also
//! parsed, and every struct, field, `#define` and enumerator in it must be in the table, so
//! nothing can be forgotten. Hypercall ids and the memory-region structs are checked against
//! `drivers/virt/acrn/hypercall.h` and `acrn_drv.h`.
//!
//! Kernel source: `$ACRN_KERNEL_SRC`, else the newest `linux-*` directory with a `.unpacked`
//! marker under `${ACRN_RS_CACHE:-$HOME/.cache/acrn-rs}/src`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::{env, fs};

mod common;
use common::kernel_src;

use acrn_uapi::acrn::{self, *};
use acrn_uapi::hv::{self, *};

// ---------------------------------------------------------------------------------------------
// Locating the sources
// ---------------------------------------------------------------------------------------------

fn our_header() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../linux/acrn.h")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// A small parser for the C headers
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Header {
    /// Object-like `#define`s (no include guard).
    defines: Vec<String>,
    /// Enumerators.
    enumerators: Vec<String>,
    /// Struct tag -> members.
    structs: BTreeMap<String, Vec<Member>>,
}

#[derive(Debug, Clone)]
struct Member {
    /// `a`, `a.b`, `res[0].size` (anonymous members flattened as C does).
    path: String,
    /// Scalar or array of scalars (as opposed to struct/union members).
    scalar: bool,
    /// Declared as an array.
    array: bool,
    /// Flexible array member (`x[]`): no sizeof.
    flexible: bool,
}

fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"/*") {
            let end = s[i + 2..].find("*/").expect("unterminated comment");
            // Keep line structure for the preprocessor pass.
            out.extend(s[i..i + 2 + end + 2].chars().filter(|&c| c == '\n'));
            out.push(' ');
            i += 2 + end + 2;
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn tokenize(code: &str) -> Vec<String> {
    let mut toks = Vec::new();
    let cs: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let start = i;
            while i < cs.len() && (cs[i].is_ascii_alphanumeric() || cs[i] == '_') {
                i += 1;
            }
            toks.push(cs[start..i].iter().collect());
        } else {
            toks.push(c.to_string());
            i += 1;
        }
    }
    toks
}

fn parse_header(text: &str) -> Header {
    let text = strip_comments(text).replace("\\\n", " ");
    let mut h = Header::default();
    let mut guards = BTreeSet::new();
    let mut code = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix('#') {
            let words: Vec<&str> = rest.split_whitespace().collect();
            match words.as_slice() {
                ["ifndef", name, ..] => {
                    guards.insert(name.to_string());
                }
                ["define", name, ..] if !name.contains('(') => h.defines.push(name.to_string()),
                _ => {}
            }
        } else {
            code.push_str(line);
            code.push('\n');
        }
    }
    h.defines.retain(|d| !guards.contains(d));

    let toks = tokenize(&code);
    let mut i = 0;
    while i < toks.len() {
        match toks[i].as_str() {
            "struct" | "union" if toks.get(i + 2).map(String::as_str) == Some("{") => {
                let tag = toks[i + 1].clone();
                let mut members = Vec::new();
                i = parse_members(&toks, i + 3, "", &mut members);
                h.structs.insert(tag, members);
            }
            "enum" => {
                while toks[i] != "{" {
                    i += 1;
                }
                i += 1;
                let mut expect_name = true;
                while toks[i] != "}" {
                    if expect_name {
                        h.enumerators.push(toks[i].clone());
                        expect_name = false;
                    } else if toks[i] == "," {
                        expect_name = true;
                    }
                    i += 1;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    h
}

/// Skips `__attribute__((...))` at `i`.
fn skip_attr(toks: &[String], mut i: usize) -> usize {
    while toks.get(i).map(String::as_str) == Some("__attribute__") {
        i += 1;
        let mut depth = 0;
        loop {
            match toks[i].as_str() {
                "(" => depth += 1,
                ")" => depth -= 1,
                _ => {}
            }
            i += 1;
            if depth == 0 {
                break;
            }
        }
    }
    i
}

/// Parses members from `i` (just after `{`) to the matching `}`; returns the index after it.
fn parse_members(toks: &[String], mut i: usize, prefix: &str, out: &mut Vec<Member>) -> usize {
    loop {
        i = skip_attr(toks, i);
        match toks[i].as_str() {
            "}" => return i + 1,
            "struct" | "union" => {
                // Inline definition, possibly anonymous, or a member of a named type.
                let mut j = i + 1;
                if toks[j] != "{" {
                    j += 1; // tag
                }
                if toks[j] == "{" {
                    let mut inner = Vec::new();
                    j = parse_members(toks, j + 1, "", &mut inner);
                    j = skip_attr(toks, j);
                    if toks[j] == ";" {
                        // Anonymous: members belong to the enclosing struct.
                        for m in inner {
                            out.push(Member {
                                path: format!("{prefix}{}", m.path),
                                ..m
                            });
                        }
                        i = j + 1;
                    } else {
                        let (name, array, flexible, next) = declarator(toks, j);
                        out.push(Member {
                            path: format!("{prefix}{name}"),
                            scalar: false,
                            array,
                            flexible,
                        });
                        let sub = if array {
                            format!("{prefix}{name}[0].")
                        } else {
                            format!("{prefix}{name}.")
                        };
                        for m in inner {
                            out.push(Member {
                                path: format!("{sub}{}", m.path),
                                ..m
                            });
                        }
                        i = next;
                    }
                } else {
                    let (name, array, flexible, next) = declarator(toks, j);
                    out.push(Member {
                        path: format!("{prefix}{name}"),
                        scalar: false,
                        array,
                        flexible,
                    });
                    i = next;
                }
            }
            _ => {
                // Scalar: type words, then the declarator.
                let mut j = i;
                while toks[j + 1] != ";" && toks[j + 1] != "[" && toks[j + 1] != "__attribute__" {
                    j += 1;
                }
                let (name, array, flexible, next) = declarator(toks, j);
                out.push(Member {
                    path: format!("{prefix}{name}"),
                    scalar: true,
                    array,
                    flexible,
                });
                i = next;
            }
        }
    }
}

/// Parses `name [N]? attrs? ;` at `i`; returns (name, array, flexible, index after `;`).
fn declarator(toks: &[String], mut i: usize) -> (String, bool, bool, usize) {
    let name = toks[i].clone();
    assert!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "unexpected token {name:?} in a struct"
    );
    i += 1;
    let (mut array, mut flexible) = (false, false);
    if toks[i] == "[" {
        array = true;
        flexible = toks[i + 1] == "]";
        while toks[i] != "]" {
            i += 1;
        }
        i += 1;
    }
    while toks[i] != ";" {
        assert_ne!(
            toks[i], ",",
            "several declarators in one member: extend the parser"
        );
        i += 1;
    }
    (name, array, flexible, i + 1)
}

/// The probe keys a header's items require.
fn required_keys(h: &Header) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (tag, members) in &h.structs {
        keys.insert(format!("sizeof:{tag}"));
        keys.insert(format!("alignof:{tag}"));
        for m in members {
            keys.insert(format!("offsetof:{tag}.{}", m.path));
            if !m.flexible {
                keys.insert(format!("fieldsize:{tag}.{}", m.path));
            }
            if m.scalar {
                let idx = if m.array { "[0]" } else { "" };
                keys.insert(format!("fieldtype:{tag}.{}{idx}", m.path));
            }
        }
    }
    for d in h.defines.iter().chain(&h.enumerators) {
        keys.insert(format!("const:{d}"));
    }
    keys
}

// ---------------------------------------------------------------------------------------------
// The Rust side
// ---------------------------------------------------------------------------------------------

/// Rust spelling of a C scalar type, as the probe's `_Generic` prints it.
trait CType {
    const NAME: &'static str;
    const ARRAY: bool = false;
}

macro_rules! ctype {
    ($($t:ty => $n:literal),*) => { $(impl CType for $t { const NAME: &'static str = $n; })* };
}
ctype!(u8 => "u8", i8 => "s8", u16 => "u16", i16 => "s16", u32 => "u32", i32 => "s32",
       u64 => "u64", i64 => "s64");

impl<T: CType, const N: usize> CType for [T; N] {
    const NAME: &'static str = T::NAME;
    const ARRAY: bool = true;
}

fn fsize<T, F>(_place: fn(*const T) -> *const F) -> usize {
    std::mem::size_of::<F>()
}

fn ftype<T, F: CType>(_place: fn(*const T) -> *const F) -> (&'static str, bool) {
    (F::NAME, F::ARRAY)
}

fn c_path(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim_start_matches("r#"))
        .collect::<Vec<_>>()
        .join(".")
}

#[derive(Default)]
struct Table {
    rows: BTreeMap<String, String>,
}

impl Table {
    fn add(&mut self, key: String, value: impl Display) {
        let old = self.rows.insert(key.clone(), value.to_string());
        assert!(old.is_none(), "duplicate table key {key}");
    }
}

/// `sizeof` and `alignof` of `struct $c` = those of `$r`.
macro_rules! structs {
    ($t:ident, $($c:ident => $r:ty),* $(,)?) => {$(
        $t.add(format!("sizeof:{}", stringify!($c)), std::mem::size_of::<$r>());
        $t.add(format!("alignof:{}", stringify!($c)), std::mem::align_of::<$r>());
    )*};
}

/// One field: C path `$cpath` in `struct $c`, Rust place `$($f).+` in `$r`.
macro_rules! field {
    (@type scalar, $t:ident, $key:ident, $r:ty, $($f:ident).+) => {{
        let (name, array) = ftype::<$r, _>(|p| unsafe { std::ptr::addr_of!((*p).$($f).+) });
        $t.add(format!("fieldtype:{}{}", $key, if array { "[0]" } else { "" }), name);
    }};
    (@type aggr, $t:ident, $key:ident, $r:ty, $($f:ident).+) => {};
    ($t:ident, $c:ident => $r:ty, $kind:ident, $cpath:expr, $($f:ident).+) => {{
        let key = format!("{}.{}", stringify!($c), $cpath);
        $t.add(format!("offsetof:{key}"), std::mem::offset_of!($r, $($f).+));
        $t.add(
            format!("fieldsize:{key}"),
            fsize::<$r, _>(|p| unsafe { std::ptr::addr_of!((*p).$($f).+) }),
        );
        field!(@type $kind, $t, key, $r, $($f).+);
    }};
}

/// Fields whose C path equals the Rust path.
macro_rules! fields {
    ($t:ident, $c:ident => $r:ty {
        $(scalar: $($($s:ident).+),+ ;)?
        $(aggr: $($($a:ident).+),+ ;)?
    }) => {{
        $($( field!($t, $c => $r, scalar, c_path(&[$(stringify!($s)),+]), $($s).+); )+)?
        $($( field!($t, $c => $r, aggr, c_path(&[$(stringify!($a)),+]), $($a).+); )+)?
    }};
}

/// Fields of an anonymous struct inside an array member: C `$arr[0].$f`.
macro_rules! array_fields {
    ($t:ident, $c:ident => $r:ty, $arr:ident[0] => $er:ty { scalar: $($f:ident),+ }) => {{
        $(
            let key = format!("{}.{}[0].{}", stringify!($c), stringify!($arr), c_path(&[stringify!($f)]));
            $t.add(
                format!("offsetof:{key}"),
                std::mem::offset_of!($r, $arr) + std::mem::offset_of!($er, $f),
            );
            $t.add(
                format!("fieldsize:{key}"),
                fsize::<$r, _>(|p| unsafe { std::ptr::addr_of!((*p).$arr[0].$f) }),
            );
            let (name, array) = ftype::<$r, _>(|p| unsafe { std::ptr::addr_of!((*p).$arr[0].$f) });
            $t.add(format!("fieldtype:{}{}", key, if array { "[0]" } else { "" }), name);
        )+
    }};
}

/// Constants with the same name in C and Rust.
macro_rules! consts {
    ($t:ident, $($m:ident :: $n:ident),* $(,)?) => {$(
        $t.add(format!("const:{}", stringify!($n)), $m::$n);
    )*};
}

/// The complete Rust side of `linux/acrn.h`.
fn uapi_table() -> Table {
    let mut t = Table::default();
    structs!(t,
        acrn_mmio_request => MmioRequest,
        acrn_pio_request => PioRequest,
        acrn_pci_request => PciRequest,
        acrn_io_request => IoRequest,
        acrn_io_request_buffer => IoRequestBuffer,
        acrn_ioreq_notify => IoreqNotify,
        acrn_vm_creation => VmCreation,
        acrn_gp_regs => GpRegs,
        acrn_descriptor_ptr => DescriptorPtr,
        acrn_regs => Regs,
        acrn_vcpu_regs => VcpuRegs,
        acrn_vm_memmap => VmMemmap,
        acrn_ptdev_irq => PtdevIrq,
        acrn_pcidev => Pcidev,
        acrn_mmiodev => Mmiodev,
        acrn_vdev => Vdev,
        acrn_msi_entry => MsiEntry,
        acrn_acpi_generic_address => AcpiGenericAddress,
        acrn_cstate_data => CstateData,
        acrn_pstate_data => PstateData,
        acrn_ioeventfd => Ioeventfd,
        acrn_irqfd => Irqfd,
    );
    fields!(t, acrn_mmio_request => MmioRequest {
        scalar: direction, reserved, address, size, value;
    });
    fields!(t, acrn_pio_request => PioRequest {
        scalar: direction, reserved, address, size, value;
    });
    fields!(t, acrn_pci_request => PciRequest {
        scalar: direction, reserved, size, value, bus, dev, func, reg;
    });
    fields!(t, acrn_io_request => IoRequest {
        scalar: r#type, completion_polling, reserved0, reqs.data, reserved1, kernel_handled,
            processed;
        aggr: reqs, reqs.pio_request, reqs.pci_request, reqs.mmio_request,
            // Nested fields through the union (beyond what the parser requires).
            reqs.pio_request.value, reqs.pci_request.reg, reqs.mmio_request.value;
    });
    fields!(t, acrn_io_request_buffer => IoRequestBuffer {
        scalar: reserved;
        aggr: req_slot;
    });
    fields!(t, acrn_ioreq_notify => IoreqNotify {
        scalar: vmid, reserved, vcpu;
    });
    fields!(t, acrn_vm_creation => VmCreation {
        scalar: vmid, reserved0, vcpu_num, reserved1, uuid, vm_flag, ioreq_buf, cpu_affinity;
    });
    fields!(t, acrn_gp_regs => GpRegs {
        scalar: rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15;
    });
    fields!(t, acrn_descriptor_ptr => DescriptorPtr {
        scalar: limit, base, reserved;
    });
    fields!(t, acrn_regs => Regs {
        scalar: rip, cs_base, cr0, cr4, cr3, ia32_efer, rflags, reserved_64, cs_ar, cs_limit,
            reserved_32, cs_sel, ss_sel, ds_sel, es_sel, fs_sel, gs_sel, ldt_sel, tr_sel;
        aggr: gprs, gdt, idt;
    });
    fields!(t, acrn_vcpu_regs => VcpuRegs {
        scalar: vcpu_id, reserved,
            vcpu_regs.gprs.rax, vcpu_regs.gprs.r15, vcpu_regs.gdt.limit, vcpu_regs.gdt.base,
            vcpu_regs.idt.base, vcpu_regs.rip, vcpu_regs.cr0, vcpu_regs.ia32_efer,
            vcpu_regs.cs_ar, vcpu_regs.cs_sel, vcpu_regs.tr_sel;
        aggr: vcpu_regs, vcpu_regs.gprs, vcpu_regs.gdt, vcpu_regs.idt;
    });
    fields!(t, acrn_vm_memmap => VmMemmap {
        scalar: r#type, attr, user_vm_pa, len;
    });
    // The C anonymous union is the Rust field `addr`.
    field!(t, acrn_vm_memmap => VmMemmap, scalar, "service_vm_pa", addr.service_vm_pa);
    field!(t, acrn_vm_memmap => VmMemmap, scalar, "vma_base", addr.vma_base);
    fields!(t, acrn_ptdev_irq => PtdevIrq {
        scalar: r#type, virt_bdf, phys_bdf, intx.virt_pin, intx.phys_pin, intx.is_pic_pin;
        aggr: intx;
    });
    fields!(t, acrn_pcidev => Pcidev {
        scalar: r#type, virt_bdf, phys_bdf, intr_line, intr_pin, bar;
    });
    fields!(t, acrn_mmiodev => Mmiodev {
        scalar: name;
        aggr: res;
    });
    array_fields!(t, acrn_mmiodev => Mmiodev, res[0] => MmiodevRes {
        scalar: user_vm_pa, service_vm_pa, size, mem_type
    });
    fields!(t, acrn_vdev => Vdev {
        scalar: id.value, id.fields.vendor, id.fields.device, id.fields.legacy_id, slot,
            io_addr, io_size, args;
        aggr: id, id.fields;
    });
    fields!(t, acrn_msi_entry => MsiEntry {
        scalar: msi_addr, msi_data;
    });
    fields!(t, acrn_acpi_generic_address => AcpiGenericAddress {
        scalar: space_id, bit_width, bit_offset, access_size, address;
    });
    fields!(t, acrn_cstate_data => CstateData {
        scalar: r#type, latency, power, cx_reg.address;
        aggr: cx_reg;
    });
    fields!(t, acrn_pstate_data => PstateData {
        scalar: core_frequency, power, transition_latency, bus_master_latency, control, status;
    });
    fields!(t, acrn_ioeventfd => Ioeventfd {
        scalar: fd, flags, addr, len, reserved, data;
    });
    fields!(t, acrn_irqfd => Irqfd {
        scalar: fd, flags, msi.msi_addr, msi.msi_data;
        aggr: msi;
    });
    consts!(
        t,
        acrn::ACRN_IO_REQUEST_MAX,
        acrn::ACRN_IOREQ_STATE_PENDING,
        acrn::ACRN_IOREQ_STATE_COMPLETE,
        acrn::ACRN_IOREQ_STATE_PROCESSING,
        acrn::ACRN_IOREQ_STATE_FREE,
        acrn::ACRN_IOREQ_TYPE_PORTIO,
        acrn::ACRN_IOREQ_TYPE_MMIO,
        acrn::ACRN_IOREQ_TYPE_PCICFG,
        acrn::ACRN_IOREQ_DIR_READ,
        acrn::ACRN_IOREQ_DIR_WRITE,
        acrn::ACRN_MEM_ACCESS_RIGHT_MASK,
        acrn::ACRN_MEM_ACCESS_READ,
        acrn::ACRN_MEM_ACCESS_WRITE,
        acrn::ACRN_MEM_ACCESS_EXEC,
        acrn::ACRN_MEM_ACCESS_RWX,
        acrn::ACRN_MEM_TYPE_MASK,
        acrn::ACRN_MEM_TYPE_WB,
        acrn::ACRN_MEM_TYPE_WT,
        acrn::ACRN_MEM_TYPE_UC,
        acrn::ACRN_MEM_TYPE_WC,
        acrn::ACRN_MEM_TYPE_WP,
        acrn::ACRN_MEMMAP_RAM,
        acrn::ACRN_MEMMAP_MMIO,
        acrn::ACRN_PTDEV_IRQ_INTX,
        acrn::ACRN_PTDEV_IRQ_MSI,
        acrn::ACRN_PTDEV_IRQ_MSIX,
        acrn::ACRN_PTDEV_QUIRK_ASSIGN,
        acrn::ACRN_MMIODEV_RES_NUM,
        acrn::ACRN_PCI_NUM_BARS,
        acrn::PMCMD_TYPE_MASK,
        acrn::ACRN_PMCMD_GET_PX_CNT,
        acrn::ACRN_PMCMD_GET_PX_DATA,
        acrn::ACRN_PMCMD_GET_CX_CNT,
        acrn::ACRN_PMCMD_GET_CX_DATA,
        acrn::ACRN_IOEVENTFD_FLAG_PIO,
        acrn::ACRN_IOEVENTFD_FLAG_DATAMATCH,
        acrn::ACRN_IOEVENTFD_FLAG_DEASSIGN,
        acrn::ACRN_IRQFD_FLAG_DEASSIGN,
        acrn::ACRN_IOCTL_TYPE,
        acrn::ACRN_IOCTL_CREATE_VM,
        acrn::ACRN_IOCTL_DESTROY_VM,
        acrn::ACRN_IOCTL_START_VM,
        acrn::ACRN_IOCTL_PAUSE_VM,
        acrn::ACRN_IOCTL_RESET_VM,
        acrn::ACRN_IOCTL_SET_VCPU_REGS,
        acrn::ACRN_IOCTL_INJECT_MSI,
        acrn::ACRN_IOCTL_VM_INTR_MONITOR,
        acrn::ACRN_IOCTL_SET_IRQLINE,
        acrn::ACRN_IOCTL_NOTIFY_REQUEST_FINISH,
        acrn::ACRN_IOCTL_CREATE_IOREQ_CLIENT,
        acrn::ACRN_IOCTL_ATTACH_IOREQ_CLIENT,
        acrn::ACRN_IOCTL_DESTROY_IOREQ_CLIENT,
        acrn::ACRN_IOCTL_CLEAR_VM_IOREQ,
        acrn::ACRN_IOCTL_SET_MEMSEG,
        acrn::ACRN_IOCTL_UNSET_MEMSEG,
        acrn::ACRN_IOCTL_SET_PTDEV_INTR,
        acrn::ACRN_IOCTL_RESET_PTDEV_INTR,
        acrn::ACRN_IOCTL_ASSIGN_PCIDEV,
        acrn::ACRN_IOCTL_DEASSIGN_PCIDEV,
        acrn::ACRN_IOCTL_ASSIGN_MMIODEV,
        acrn::ACRN_IOCTL_DEASSIGN_MMIODEV,
        acrn::ACRN_IOCTL_CREATE_VDEV,
        acrn::ACRN_IOCTL_DESTROY_VDEV,
        acrn::ACRN_IOCTL_PM_GET_CPU_STATE,
        acrn::ACRN_IOCTL_IOEVENTFD,
        acrn::ACRN_IOCTL_IRQFD,
    );
    t
}

// ---------------------------------------------------------------------------------------------
// The C probe
// ---------------------------------------------------------------------------------------------

const PROBE_PRELUDE: &str = r#"#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include <linux/ioctl.h>
#define CTYPE(x) _Generic((x), \
	unsigned char: "u8", signed char: "s8", char: "char", \
	unsigned short: "u16", short: "s16", unsigned int: "u32", int: "s32", \
	unsigned long: "u64", long: "s64", unsigned long long: "u64", long long: "s64", \
	default: "other")
"#;

/// The C expression and printf format of a probe key.
fn c_expr(key: &str) -> (String, &'static str) {
    let (kind, what) = key.split_once(':').expect("key kind");
    let field = |what: &str| {
        let (s, p) = what.split_once('.').expect("struct.field");
        (s.to_string(), p.to_string())
    };
    match kind {
        "sizeof" => (format!("(unsigned long long)sizeof(struct {what})"), "%llu"),
        "alignof" => (
            format!("(unsigned long long)_Alignof(struct {what})"),
            "%llu",
        ),
        "offsetof" => {
            let (s, p) = field(what);
            (
                format!("(unsigned long long)offsetof(struct {s}, {p})"),
                "%llu",
            )
        }
        "fieldsize" => {
            let (s, p) = field(what);
            (
                format!("(unsigned long long)sizeof(((struct {s} *)0)->{p})"),
                "%llu",
            )
        }
        "fieldtype" => {
            let (s, p) = field(what);
            (format!("CTYPE(((struct {s} *)0)->{p})"), "%s")
        }
        "const" => (format!("(unsigned long long)({what})"), "%llu"),
        _ => panic!("bad key {key}"),
    }
}

static PROBE_SEQ: AtomicUsize = AtomicUsize::new(0);

/// Compiles and runs a probe: `includes` (C text), then a `main` printing every key.
fn run_probe<'a>(
    name: &str,
    includes: &str,
    keys: impl IntoIterator<Item = &'a String>,
) -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "abi-probe-{}-{}-{name}",
        std::process::id(),
        PROBE_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).unwrap();
    let mut src = String::from(PROBE_PRELUDE);
    src.push_str(includes);
    src.push_str("\nint main(void)\n{\n");
    for key in keys {
        let (expr, fmt) = c_expr(key);
        src.push_str(&format!("\tprintf(\"%s {fmt}\\n\", \"{key}\", {expr});\n"));
    }
    src.push_str("\treturn 0;\n}\n");
    let c = dir.join("probe.c");
    let exe = dir.join("probe");
    fs::write(&c, &src).unwrap();
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O0", "-o"])
        .arg(&exe)
        .arg(&c)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(
        out.status.success(),
        "probe {} failed to compile:\n{}",
        c.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe).output().expect("run probe");
    assert!(out.status.success(), "probe {} failed", exe.display());
    let text = String::from_utf8(out.stdout).unwrap();
    let _ = fs::remove_dir_all(&dir);
    text.lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').expect("probe line");
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// `#include`s a uapi acrn.h by absolute path and asserts that it is the 6.12 layout (not an
/// older header such as the host's 6.1 `/usr/include/linux/acrn.h`, which has `guid_t uuid`).
fn include_acrn_h(path: &Path) -> String {
    let path = path.canonicalize().unwrap();
    format!(
        "#include \"{}\"\n\
         _Static_assert(__builtin_types_compatible_p(\
         __typeof__(((struct acrn_vm_creation *)0)->uuid), __u8[16]), \
         \"not a Linux 6.12 acrn.h: uuid is not __u8[16]\");\n",
        path.display()
    )
}

fn compare(what: &str, c: &BTreeMap<String, String>, t: &Table, errors: &mut Vec<String>) {
    for (key, rust) in &t.rows {
        match c.get(key) {
            Some(v) if v == rust => {}
            Some(v) => errors.push(format!("{what}: {key}: C {v}, Rust {rust}")),
            None => errors.push(format!("{what}: {key}: missing from the probe output")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests: linux/acrn.h
// ---------------------------------------------------------------------------------------------

#[test]
fn uapi_matches_kernel_header_and_ours() {
    let ksrc = kernel_src();
    let kernel_h = ksrc.join("include/uapi/linux/acrn.h");
    let table = uapi_table();
    let kernel = run_probe("kernel", &include_acrn_h(&kernel_h), table.rows.keys());
    let ours = run_probe("ours", &include_acrn_h(&our_header()), table.rows.keys());
    let mut errors = Vec::new();
    compare("kernel acrn.h", &kernel, &table, &mut errors);
    compare("our acrn.h", &ours, &table, &mut errors);
    assert!(
        errors.is_empty(),
        "{} mismatches ({}):\n{}",
        errors.len(),
        kernel_h.display(),
        errors.join("\n")
    );
    eprintln!(
        "{} ABI items equal in Rust, {} and our acrn.h",
        table.rows.len(),
        kernel_h.display()
    );
}

#[test]
fn table_covers_every_item_of_the_kernel_header() {
    let kernel_h = kernel_src().join("include/uapi/linux/acrn.h");
    let kernel = parse_header(&read(&kernel_h));
    let ours = parse_header(&read(&our_header()));

    // Sanity of the parser itself.
    assert_eq!(kernel.structs.len(), 22, "{:?}", kernel.structs.keys());
    let ioctls = kernel
        .defines
        .iter()
        .filter(|d| d.starts_with("ACRN_IOCTL_"))
        .count();
    assert_eq!(ioctls, 28, "27 ioctls plus ACRN_IOCTL_TYPE");
    assert_eq!(kernel.enumerators.len(), 4);

    let required = required_keys(&kernel);
    let table = uapi_table();
    let missing: Vec<_> = required
        .iter()
        .filter(|k| !table.rows.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "items of {} missing from the table: {missing:#?}",
        kernel_h.display()
    );

    // Our header declares exactly the same names as the kernel's.
    let ours_keys = required_keys(&ours);
    let only_kernel: Vec<_> = required.difference(&ours_keys).collect();
    let only_ours: Vec<_> = ours_keys.difference(&required).collect();
    assert!(
        only_kernel.is_empty() && only_ours.is_empty(),
        "uapi/linux/acrn.h differs in names: only in the kernel {only_kernel:#?}, only in ours {only_ours:#?}"
    );
    let mut kd = kernel.defines.clone();
    let mut od = ours.defines.clone();
    kd.sort();
    od.sort();
    assert_eq!(kd, od);
}

#[test]
fn parser_handles_nested_and_anonymous_members() {
    let h = parse_header(
        "#ifndef G\n#define G\n#define A 1\n#define F(x) x\n\
         struct s { __u32 a; union { __u64 b; __u64 c; }; struct { __u8 d[2]; } e[3]; \
         struct t f; __u8 g[] __attribute__((x)); } __attribute__((aligned(8)));\n\
         enum e { X, Y = 3, Z };\n#endif\n",
    );
    assert_eq!(h.defines, ["A"]);
    assert_eq!(h.enumerators, ["X", "Y", "Z"]);
    let paths: Vec<_> = h.structs["s"]
        .iter()
        .map(|m| (m.path.as_str(), m.scalar))
        .collect();
    assert_eq!(
        paths,
        [
            ("a", true),
            ("b", true),
            ("c", true),
            ("e", false),
            ("e[0].d", true),
            ("f", false),
            ("g", true)
        ]
    );
    assert!(h.structs["s"].last().unwrap().flexible);
}

// ---------------------------------------------------------------------------------------------
// Tests: hypercall ids and memory-region structs
// ---------------------------------------------------------------------------------------------

/// Rust hypercall ids and group bases by name.
fn hv_ids() -> BTreeMap<&'static str, u64> {
    macro_rules! ids {
        ($($n:ident),* $(,)?) => { BTreeMap::from([$((stringify!($n), hv::$n)),*]) };
    }
    ids!(
        HC_ID,
        HC_ID_GEN_BASE,
        HC_ID_VM_BASE,
        HC_ID_IRQ_BASE,
        HC_ID_IOREQ_BASE,
        HC_ID_MEM_BASE,
        HC_ID_PCI_BASE,
        HC_ID_DBG_BASE,
        HC_ID_TRUSTY_BASE,
        HC_ID_PM_BASE,
        HC_ID_TEE_BASE,
        HC_GET_API_VERSION,
        HC_SERVICE_VM_OFFLINE_CPU,
        HC_SET_CALLBACK_VECTOR,
        HC_CREATE_VM,
        HC_DESTROY_VM,
        HC_START_VM,
        HC_PAUSE_VM,
        HC_CREATE_VCPU,
        HC_RESET_VM,
        HC_SET_VCPU_REGS,
        HC_INJECT_MSI,
        HC_VM_INTR_MONITOR,
        HC_SET_IRQLINE,
        HC_SET_IOREQ_BUFFER,
        HC_NOTIFY_REQUEST_FINISH,
        HC_ASYNCIO_ASSIGN,
        HC_ASYNCIO_DEASSIGN,
        HC_VM_GPA2HPA,
        HC_VM_SET_MEMORY_REGIONS,
        HC_VM_WRITE_PROTECT_PAGE,
        HC_SETUP_SBUF,
        HC_ASSIGN_PTDEV,
        HC_DEASSIGN_PTDEV,
        HC_VM_PCI_MSIX_REMAP,
        HC_SET_PTDEV_INTR_INFO,
        HC_RESET_PTDEV_INTR_INFO,
        HC_ASSIGN_PCIDEV,
        HC_DEASSIGN_PCIDEV,
        HC_ASSIGN_MMIODEV,
        HC_DEASSIGN_MMIODEV,
        HC_ADD_VDEV,
        HC_REMOVE_VDEV,
        HC_SETUP_HV_NPK_LOG,
        HC_PROFILING_OPS,
        HC_GET_HW_INFO,
        HC_INITIALIZE_TRUSTY,
        HC_WORLD_SWITCH,
        HC_SAVE_RESTORE_SWORLD_CTX,
        HC_PM_GET_CPU_STATE,
        HC_TEE_VCPU_BOOT_DONE,
        HC_SWITCH_EE,
    )
}

/// Linux name -> ACRN (our) name where they differ.
const LINUX_HC_ALIASES: &[(&str, &str)] = &[
    ("HC_SOS_REMOVE_CPU", "HC_SERVICE_VM_OFFLINE_CPU"),
    ("HC_SET_PTDEV_INTR", "HC_SET_PTDEV_INTR_INFO"),
    ("HC_RESET_PTDEV_INTR", "HC_RESET_PTDEV_INTR_INFO"),
    ("HC_CREATE_VDEV", "HC_ADD_VDEV"),
    ("HC_DESTROY_VDEV", "HC_REMOVE_VDEV"),
];

fn c_number(s: &str) -> u64 {
    let s = s.trim().trim_end_matches(['U', 'L', 'u', 'l']);
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|e| panic!("bad number {s:?}: {e}"))
}

/// Evaluates the `#define HC_*` lines of Linux's hypercall.h.
fn linux_hypercall_ids(text: &str) -> BTreeMap<String, u64> {
    let mut ids = BTreeMap::new();
    for line in strip_comments(text).lines() {
        let mut w = line.split_whitespace();
        if w.next() != Some("#define") {
            continue;
        }
        let Some(name) = w.next() else { continue };
        if !name.starts_with("HC_") {
            continue;
        }
        let body: String = w.collect::<Vec<_>>().join(" ");
        let term = |t: &str, ids: &BTreeMap<String, u64>| -> u64 {
            t.split('+')
                .map(|x| {
                    let x = x.trim();
                    match ids.get(x) {
                        Some(v) => *v,
                        None => c_number(x),
                    }
                })
                .sum()
        };
        let value = if let Some(args) = body.strip_prefix("_HC_ID(") {
            let args = args.strip_suffix(')').expect("_HC_ID(...)");
            let (x, y) = args.split_once(',').expect("two arguments");
            (term(x, &ids) << 24) | term(y, &ids)
        } else {
            term(&body, &ids)
        };
        ids.insert(name.to_string(), value);
    }
    ids
}

#[test]
fn hypercall_ids_match_linux() {
    let path = kernel_src().join("drivers/virt/acrn/hypercall.h");
    let linux = linux_hypercall_ids(&read(&path));
    assert!(
        linux.len() >= 30,
        "parsed only {} ids from {}",
        linux.len(),
        path.display()
    );
    let ours = hv_ids();
    let aliases: BTreeMap<_, _> = LINUX_HC_ALIASES.iter().copied().collect();
    let mut errors = Vec::new();
    for (name, value) in &linux {
        let rust_name = aliases.get(name.as_str()).copied().unwrap_or(name);
        match ours.get(rust_name) {
            Some(v) if v == value => {}
            Some(v) => errors.push(format!("{name}: Linux {value:#x}, hv::{rust_name} {v:#x}")),
            None => errors.push(format!("{name} = {value:#x}: no hv::{rust_name}")),
        }
    }
    assert!(
        errors.is_empty(),
        "{}:\n{}",
        path.display(),
        errors.join("\n")
    );
    eprintln!(
        "{} hypercall ids and bases equal to {}",
        linux.len(),
        path.display()
    );
}

#[test]
fn hypercall_ids_are_distinct() {
    let ids: Vec<_> = hv_ids()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("HC_ID"))
        .collect();
    let values: BTreeSet<_> = ids.iter().map(|(_, v)| *v).collect();
    let idx: BTreeSet<_> = ids.iter().map(|(_, v)| hc_idx(*v)).collect();
    assert_eq!(values.len(), ids.len());
    assert_eq!(idx.len(), ids.len(), "HC_IDX collision");
    assert!(ids.iter().all(|(_, v)| v >> 24 == HC_ID && v >> 32 == 0));
}

/// Extracts `struct NAME { ... };` from C text.
fn extract_struct(text: &str, name: &str) -> String {
    let start = text
        .find(&format!("struct {name} {{"))
        .unwrap_or_else(|| panic!("struct {name} not found"));
    let end = start + text[start..].find("};").expect("end of struct") + 2;
    text[start..end].to_string()
}

#[test]
fn memory_region_structs_match_linux() {
    let path = kernel_src().join("drivers/virt/acrn/acrn_drv.h");
    let text = strip_comments(&read(&path));
    let op = extract_struct(&text, "vm_memory_region_op");
    let batch = extract_struct(&text, "vm_memory_region_batch");
    let defines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("#define ACRN_MEM_REGION_"))
        .map(str::to_string)
        .collect();
    assert_eq!(defines.len(), 2, "{defines:?}");
    let c_text = format!(
        "typedef __u16 u16;\ntypedef __u32 u32;\ntypedef __u64 u64;\n\
         #ifndef __counted_by\n#define __counted_by(x)\n#endif\n\
         {}\n{op}\n{batch}\n",
        defines.join("\n")
    );

    let mut t = Table::default();
    structs!(t, vm_memory_region_op => VmMemoryRegion);
    field!(t, vm_memory_region_op => VmMemoryRegion, scalar, "type", r#type);
    field!(t, vm_memory_region_op => VmMemoryRegion, scalar, "attr", prot);
    field!(t, vm_memory_region_op => VmMemoryRegion, scalar, "user_vm_pa", gpa);
    field!(t, vm_memory_region_op => VmMemoryRegion, scalar, "service_vm_pa", service_vm_gpa);
    field!(t, vm_memory_region_op => VmMemoryRegion, scalar, "size", size);
    structs!(t, vm_memory_region_batch => SetRegions);
    field!(t, vm_memory_region_batch => SetRegions, scalar, "vmid", vmid);
    field!(t, vm_memory_region_batch => SetRegions, scalar, "regions_num", mr_num);
    field!(t, vm_memory_region_batch => SetRegions, scalar, "regions_gpa", regions_gpa);
    // Linux: u16 reserved[3]; ACRN: u16 reserved0, u32 reserved1.
    use std::mem::offset_of;
    t.add(
        "offsetof:vm_memory_region_batch.reserved".into(),
        offset_of!(SetRegions, reserved0),
    );
    t.add(
        "fieldsize:vm_memory_region_batch.reserved".into(),
        offset_of!(SetRegions, mr_num) - offset_of!(SetRegions, reserved0),
    );
    t.add(
        "fieldtype:vm_memory_region_batch.reserved[0]".into(),
        ftype::<SetRegions, _>(|p| unsafe { std::ptr::addr_of!((*p).reserved0) }).0,
    );
    // Linux appends the regions to the batch; ACRN points at them with regions_gpa.
    t.add(
        "offsetof:vm_memory_region_batch.regions_op".into(),
        std::mem::size_of::<SetRegions>(),
    );
    t.add("const:ACRN_MEM_REGION_ADD".into(), MR_ADD);
    t.add("const:ACRN_MEM_REGION_DEL".into(), MR_DEL);

    // Every Linux field and define must be in the table.
    let parsed = parse_header(&c_text);
    let required = required_keys(&Header {
        defines: parsed
            .defines
            .into_iter()
            .filter(|d| d.starts_with("ACRN_"))
            .collect(),
        ..parsed
    });
    let missing: Vec<_> = required
        .iter()
        .filter(|k| !t.rows.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "{} items missing: {missing:#?}",
        path.display()
    );

    let c = run_probe("memregion", &c_text, t.rows.keys());
    let mut errors = Vec::new();
    compare(&path.display().to_string(), &c, &t, &mut errors);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
