// SPDX-License-Identifier: GPL-2.0

//! TSC frequency, for ACRN's CPUID leaf 0x4000_0010: measured against PIT channel 2 over
//! 20 ms (the gate is driven through port 0x61, the speaker stays off). Under QEMU/TCG both
//! follow host time, so the result is the host TSC rate, give or take scheduling noise.

use acrn_hv_boot::x86::{inb, outb, rdtsc};

const PIT_HZ: u64 = 1_193_182;
const MS: u64 = 20;

/// Measures the TSC frequency in kHz (0 if the PIT never fires).
pub fn calibrate_khz() -> u32 {
    let count = PIT_HZ * MS / 1000;
    // SAFETY: the PIT's channel 2 and port 0x61 are free at boot (the Service VM has not
    // started); the sequence only programs a one-shot count with the speaker off.
    unsafe {
        let p61 = inb(0x61);
        outb(0x61, (p61 & !0x02) | 0x01);
        outb(0x43, 0xb0); // channel 2, lobyte/hibyte, mode 0, binary
        outb(0x42, count as u8);
        outb(0x42, (count >> 8) as u8);
        let t0 = rdtsc();
        let mut spins = 0u64;
        while inb(0x61) & 0x20 == 0 {
            spins += 1;
            if spins > 100_000_000 {
                outb(0x61, p61);
                return 0;
            }
        }
        let t1 = rdtsc();
        outb(0x61, p61);
        ((t1 - t0) / MS).min(u64::from(u32::MAX)) as u32
    }
}
