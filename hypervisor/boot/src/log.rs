// SPDX-License-Identifier: GPL-2.0

//! The hypervisor log on COM1 (I/O port 0x3f8, 115200 8N1), with levels.
//!
//! Lines look like `acrn-hv: info: message`. The level words avoid the upper-case
//! `WARNING:`/`INFO:` forms that `scripts/results.py` treats as kernel reports, since the
//! Service VM's console shares the port. The UART is polled (no interrupts), so the log
//! works from any context, including the exit handler and panics; the Service VM may
//! reprogram the UART, which only changes its speed.
//!
//! On the host (tests) the log is discarded.

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Severity of a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// Something failed; the hypervisor or a vCPU may be parked.
    Error = 1,
    /// Unexpected but handled.
    Warn = 2,
    /// Boot milestones, VM lifecycle.
    Info = 3,
    /// Per-hypercall detail.
    Debug = 4,
}

impl Level {
    const fn word(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static LOCK: AtomicBool = AtomicBool::new(false);

/// Shows lines up to `level` (1 = errors only … 4 = debug).
pub fn set_level(level: u8) {
    MAX_LEVEL.store(level.clamp(1, 4), Ordering::Relaxed);
}

/// Whether lines of `level` are shown.
pub fn enabled(level: Level) -> bool {
    level as u8 <= MAX_LEVEL.load(Ordering::Relaxed)
}

#[cfg(target_os = "none")]
mod uart {
    use crate::x86::{inb, outb};

    const COM1: u16 = 0x3f8;

    /// Programs 115200 8N1, FIFOs on, interrupts off.
    pub fn init() {
        // SAFETY: COM1 belongs to the hypervisor log until the Service VM starts; these
        // writes only configure the UART.
        unsafe {
            outb(COM1 + 1, 0x00); // IER: no interrupts
            outb(COM1 + 3, 0x80); // LCR: DLAB
            outb(COM1, 0x01); // divisor 1 = 115200
            outb(COM1 + 1, 0x00);
            outb(COM1 + 3, 0x03); // 8N1
            outb(COM1 + 2, 0xc7); // FIFO on, cleared
            outb(COM1 + 4, 0x03); // DTR, RTS
        }
    }

    pub fn put(b: u8) {
        // SAFETY: polling LSR and writing THR only send a byte; the Service VM, which
        // shares the port, tolerates interleaved output.
        unsafe {
            let mut spins = 0u32;
            while inb(COM1 + 5) & 0x20 == 0 && spins < 100_000 {
                spins += 1;
            }
            outb(COM1, b);
        }
    }
}

/// Initialises COM1 (hypervisor build only).
pub fn init() {
    #[cfg(target_os = "none")]
    uart::init();
}

struct Writer;

impl fmt::Write for Writer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        #[cfg(target_os = "none")]
        for b in s.bytes() {
            if b == b'\n' {
                uart::put(b'\r');
            }
            uart::put(b);
        }
        #[cfg(not(target_os = "none"))]
        let _ = s;
        Ok(())
    }
}

/// Writes one log line (use the macros).
pub fn write(level: Level, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    // One line at a time; a nested call (a panic while logging) does not wait.
    let mut spins = 0u32;
    while LOCK
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        spins += 1;
        if spins > 10_000_000 {
            break;
        }
        core::hint::spin_loop();
    }
    let _ = fmt::write(
        &mut Writer,
        format_args!("acrn-hv: {}: {}\n", level.word(), args),
    );
    LOCK.store(false, Ordering::Release);
}

/// Logs at error level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, format_args!($($arg)*)) };
}

/// Logs at warning level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warn, format_args!($($arg)*)) };
}

/// Logs at info level.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($arg)*)) };
}

/// Logs at debug level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Debug, format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_filter() {
        set_level(2);
        assert!(enabled(Level::Error));
        assert!(enabled(Level::Warn));
        assert!(!enabled(Level::Info));
        set_level(9);
        assert!(enabled(Level::Debug));
        set_level(3);
        info!("discarded on the host {}", 1);
    }
}
