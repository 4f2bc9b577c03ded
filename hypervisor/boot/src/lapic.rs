// SPDX-License-Identifier: GPL-2.0

//! The local APIC in xAPIC mode (QEMU 7.2 TCG has no x2APIC), as the hypervisor uses it:
//! sending IPIs (INIT/SIPI to start the reserved pCPUs, "kicks" to bring a User VM vCPU
//! back to the hypervisor, the IOREQ upcall to the Service VM), EOI and software enable on
//! the reserved pCPUs, whose APIC belongs to the hypervisor alone.
//!
//! On pCPU 0 the APIC is the Service VM's (passed through): the hypervisor only sends IPIs
//! there, between two of the Service VM's instructions, and puts the destination register
//! back as it found it.

/// Physical (and, identity-mapped, virtual) base of the xAPIC registers.
pub const LAPIC_BASE: u64 = 0xfee0_0000;
/// APIC ID register.
pub const REG_ID: u64 = 0x20;
/// EOI register.
pub const REG_EOI: u64 = 0xb0;
/// Spurious-interrupt vector register.
pub const REG_SVR: u64 = 0xf0;
/// Interrupt command register, low half.
pub const REG_ICR_LO: u64 = 0x300;
/// Interrupt command register, high half (destination in bits 31:24).
pub const REG_ICR_HI: u64 = 0x310;

/// ICR delivery mode INIT, level assert.
pub const ICR_INIT: u32 = (5 << 8) | (1 << 14);
/// ICR delivery mode start-up (vector = page number of the entry point).
pub const ICR_STARTUP: u32 = 6 << 8;
/// ICR delivery status: send pending.
pub const ICR_BUSY: u32 = 1 << 12;
/// SVR: APIC software enable.
pub const SVR_ENABLE: u32 = 1 << 8;

/// Reads register `reg`.
///
/// # Safety
///
/// The xAPIC page must be mapped at [`LAPIC_BASE`] (the hypervisor's identity map).
#[cfg(target_os = "none")]
pub unsafe fn read(reg: u64) -> u32 {
    // SAFETY: the caller guarantees the mapping; APIC registers are 32-bit aligned MMIO.
    unsafe { core::ptr::read_volatile((LAPIC_BASE + reg) as *const u32) }
}

/// Writes register `reg`.
///
/// # Safety
///
/// As [`read`]; the write's effect on the APIC is the caller's business.
#[cfg(target_os = "none")]
pub unsafe fn write(reg: u64, v: u32) {
    // SAFETY: the caller guarantees the mapping; APIC registers are 32-bit aligned MMIO.
    unsafe { core::ptr::write_volatile((LAPIC_BASE + reg) as *mut u32, v) }
}

/// Sends an IPI with ICR low half `icr_lo` to the APIC with id `dest`, restoring the
/// destination register afterwards.
///
/// # Safety
///
/// As [`read`]; the caller must be the only one using this APIC's ICR at the moment (the
/// hypervisor runs with GIF clear and the guest is not running on this pCPU).
#[cfg(target_os = "none")]
pub unsafe fn send_ipi(dest: u32, icr_lo: u32) {
    // SAFETY: forwarded from the caller.
    unsafe {
        while read(REG_ICR_LO) & ICR_BUSY != 0 {
            core::hint::spin_loop();
        }
        let hi = read(REG_ICR_HI);
        write(REG_ICR_HI, dest << 24);
        write(REG_ICR_LO, icr_lo);
        while read(REG_ICR_LO) & ICR_BUSY != 0 {
            core::hint::spin_loop();
        }
        write(REG_ICR_HI, hi);
    }
}

/// A fixed, edge-triggered, physical-destination IPI with `vector`.
pub const fn fixed(vector: u8) -> u32 {
    vector as u32
}

/// This CPU's APIC id (CPUID.1:EBX[31:24], no APIC access needed).
pub fn current_id() -> u32 {
    crate::x86::cpuid(1, 0).ebx >> 24
}
