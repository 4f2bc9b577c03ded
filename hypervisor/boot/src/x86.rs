// SPDX-License-Identifier: GPL-2.0

//! Thin wrappers around the x86 instructions the hypervisor uses: port I/O, MSRs, control
//! registers, XCR0, CPUID, TSC, `hlt`.
//!
//! CPUID and RDTSC are harmless anywhere and available on the host too; everything else is
//! privileged and exists only in the hypervisor build (`target_os = "none"`), as `unsafe fn`s
//! whose callers vouch for the effect on the machine.

#[cfg(target_os = "none")]
use core::arch::asm;

/// `IA32_EFER`.
pub const MSR_EFER: u32 = 0xc000_0080;
/// `IA32_PAT`.
pub const MSR_PAT: u32 = 0x277;
/// EFER.SVME: SVM enable.
pub const EFER_SVME: u64 = 1 << 12;
/// CR4.OSXSAVE.
pub const CR4_OSXSAVE: u64 = 1 << 18;

pub use acrn_hv_core::cpuid::CpuidResult;

/// CPUID leaf `leaf`, subleaf `subleaf`.
pub fn cpuid(leaf: u32, subleaf: u32) -> CpuidResult {
    let r = core::arch::x86_64::__cpuid_count(leaf, subleaf);
    CpuidResult {
        eax: r.eax,
        ebx: r.ebx,
        ecx: r.ecx,
        edx: r.edx,
    }
}

/// The time-stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads the TSC (CR4.TSD is clear in the hypervisor and on hosts).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Writes a byte to an I/O port.
///
/// # Safety
///
/// The write must not break an invariant of the device behind `port` that other code
/// relies on.
#[cfg(target_os = "none")]
pub unsafe fn outb(port: u16, val: u8) {
    // SAFETY: the caller vouches for the device effect; OUT touches no memory.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") val, options(nomem, nostack, preserves_flags))
    }
}

/// Reads a byte from an I/O port.
///
/// # Safety
///
/// As [`outb`]: reads can have side effects on devices.
#[cfg(target_os = "none")]
pub unsafe fn inb(port: u16) -> u8 {
    let val: u8;
    // SAFETY: the caller vouches for the device effect; IN touches no memory.
    unsafe {
        asm!("in al, dx", out("al") val, in("dx") port, options(nomem, nostack, preserves_flags))
    }
    val
}

/// Reads an MSR.
///
/// # Safety
///
/// `msr` must exist (else #GP).
#[cfg(target_os = "none")]
pub unsafe fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: the caller guarantees the MSR exists; RDMSR touches no memory.
    unsafe {
        asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Writes an MSR.
///
/// # Safety
///
/// `msr` must exist and accept `val`, and the new value must keep the hypervisor's
/// execution environment intact.
#[cfg(target_os = "none")]
pub unsafe fn wrmsr(msr: u32, val: u64) {
    // SAFETY: the caller vouches for the MSR and its effect.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") val as u32, in("edx") (val >> 32) as u32,
             options(nostack, preserves_flags))
    }
}

/// Reads CR4.
#[cfg(target_os = "none")]
pub fn read_cr4() -> u64 {
    let v: u64;
    // SAFETY: reading CR4 at CPL 0 has no side effect.
    unsafe { asm!("mov {}, cr4", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}

/// Writes CR4.
///
/// # Safety
///
/// The new value must be valid and keep paging and the hypervisor's environment intact.
#[cfg(target_os = "none")]
pub unsafe fn write_cr4(v: u64) {
    // SAFETY: the caller vouches for the value.
    unsafe { asm!("mov cr4, {}", in(reg) v, options(nostack, preserves_flags)) }
}

/// Reads XCR0 (needs CR4.OSXSAVE).
///
/// # Safety
///
/// CR4.OSXSAVE must be set (else #UD).
#[cfg(target_os = "none")]
pub unsafe fn xgetbv0() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: the caller guarantees CR4.OSXSAVE; XGETBV touches no memory.
    unsafe {
        asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Writes XCR0.
///
/// # Safety
///
/// CR4.OSXSAVE must be set and `v` must be a valid XCR0 value for this CPU (else #GP).
#[cfg(target_os = "none")]
pub unsafe fn xsetbv0(v: u64) {
    // SAFETY: the caller guarantees a valid value; XSETBV touches no memory.
    unsafe {
        asm!("xsetbv", in("ecx") 0u32, in("eax") v as u32, in("edx") (v >> 32) as u32,
             options(nomem, nostack, preserves_flags))
    }
}

/// Halts this CPU forever with interrupts off (a parked CPU).
#[cfg(target_os = "none")]
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: CLI + HLT only stop this CPU; nothing is left half done.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) }
    }
}
