// SPDX-License-Identifier: GPL-2.0

//! The system calls std does not wrap: ioctl, anonymous mappings, signals without
//! `SA_RESTART` (so a blocking ioctl returns `EINTR`), alarm.

use std::io;
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, Ordering};

/// `ioctl(fd, cmd, arg)` with a pointer argument.
pub fn ioctl_ptr<T>(fd: RawFd, cmd: u32, arg: *mut T) -> io::Result<()> {
    // SAFETY: The caller passes the argument type `cmd` expects; the kernel checks the
    // pointer (a bad one is EFAULT, never undefined behaviour in this process).
    let ret = unsafe { libc::ioctl(fd, cmd as libc::c_ulong, arg) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `ioctl(fd, cmd, value)` for commands without an argument or with one passed by value.
pub fn ioctl_val(fd: RawFd, cmd: u32, value: u64) -> io::Result<()> {
    // SAFETY: A value argument is not dereferenced in this process.
    let ret = unsafe { libc::ioctl(fd, cmd as libc::c_ulong, value as libc::c_ulong) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Private anonymous memory, populated, unmapped on drop.
pub struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mmap {
    /// Maps `len` bytes (rounded up to pages by the kernel), zeroed.
    pub fn anonymous(len: usize) -> io::Result<Self> {
        // SAFETY: A fresh anonymous mapping aliases nothing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(p.cast()).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(Self { ptr, len })
    }

    /// The start address.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The mapping as bytes. The guest (or the hypervisor) may change them concurrently, so
    /// only the DM's own set-up code, before the VM runs, uses this.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` maps `len` bytes for as long as `self` lives; `&mut self` is unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: Unmaps exactly what `anonymous` mapped; no reference outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// The first signal [`interrupt_on`] caught (0 if none).
pub static LAST_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    let _ = LAST_SIGNAL.compare_exchange(0, sig, Ordering::Relaxed, Ordering::Relaxed);
    // A signal that lands between the DM's check and its next blocking call would be lost:
    // keep waking it every second until it exits. (alarm is async-signal-safe.)
    // SAFETY: No memory is involved.
    unsafe { libc::alarm(1) };
}

/// Makes `signals` interrupt blocking system calls (`EINTR`, no `SA_RESTART`; the HSM's
/// `ATTACH_IOREQ_CLIENT` returns 0 instead, as upstream) instead of killing the process, so
/// the DM can tear its VM down; [`LAST_SIGNAL`] says which came first.
pub fn interrupt_on(signals: &[libc::c_int]) -> io::Result<()> {
    for &sig in signals {
        // SAFETY: A zeroed `sigaction` is valid (empty mask, no flags); the handler is an
        // async-signal-safe function that does nothing.
        let ret = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `alarm(seconds)`: `SIGALRM` after that long (0 cancels).
pub fn alarm(seconds: u32) {
    // SAFETY: No memory is involved.
    unsafe { libc::alarm(seconds) };
}
