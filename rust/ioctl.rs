// SPDX-License-Identifier: GPL-2.0

//! Typed access to ioctl arguments.
//!
//! An ioctl command encodes its direction and argument size (`_IOC_DIR`, `_IOC_SIZE`).
//! [`IoctlArg`] reads and writes the argument through [`UserSlice`], always with exactly the
//! size the command encodes, so a handler can not copy more or less than the ABI says.

use core::mem::size_of;
use kernel::{
    ioctl::{_IOC_DIR, _IOC_SIZE},
    prelude::*,
    types::{AsBytes, FromBytes},
    uaccess::UserSlice,
};

/// `_IOC_WRITE`: userspace writes the argument, the kernel reads it.
const IOC_WRITE: u32 = 1;
/// `_IOC_READ`: the kernel writes the argument, userspace reads it.
const IOC_READ: u32 = 2;

/// The argument of one ioctl call: the command and the raw `unsigned long` argument.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IoctlArg {
    cmd: u32,
    arg: usize,
}

impl IoctlArg {
    /// Wraps the command and argument given to `unlocked_ioctl`.
    pub(crate) fn new(cmd: u32, arg: usize) -> Self {
        Self { cmd, arg }
    }

    /// The ioctl command.
    pub(crate) fn cmd(&self) -> u32 {
        self.cmd
    }

    /// The argument as a plain value, for commands that pass it by value.
    pub(crate) fn value(&self) -> usize {
        self.arg
    }

    /// Checks that the command moves a `T` in direction `dir`.
    fn check<T>(&self, dir: u32) -> Result {
        if _IOC_DIR(self.cmd) & dir == 0 || _IOC_SIZE(self.cmd) != size_of::<T>() {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Copies the argument struct `T` in from userspace.
    ///
    /// The command must be `_IOW` or `_IOWR` with size `size_of::<T>()` (else `EINVAL`); a bad
    /// user pointer gives `EFAULT`.
    pub(crate) fn read<T: FromBytes>(&self) -> Result<T> {
        self.check::<T>(IOC_WRITE)?;
        UserSlice::new(self.arg, size_of::<T>())
            .reader()
            .read::<T>()
    }

    /// Copies `value` out to the argument struct in userspace.
    ///
    /// The command must be `_IOR` or `_IOWR` with size `size_of::<T>()` (else `EINVAL`); a bad
    /// user pointer gives `EFAULT`.
    pub(crate) fn write<T: AsBytes>(&self, value: &T) -> Result {
        self.check::<T>(IOC_READ)?;
        UserSlice::new(self.arg, size_of::<T>())
            .writer()
            .write(value)
    }

    /// Copies `bytes` out to the argument pointer, whatever size the command encodes.
    ///
    /// For the few upstream commands whose reply is longer than their encoded argument
    /// (ACRN's `PM_GET_CPU_STATE` answers a `u64` command with up to a whole
    /// `acrn_pstate_data`). The command must still be `_IOR` or `_IOWR` (else `EINVAL`); a
    /// bad user pointer gives `EFAULT`.
    pub(crate) fn write_bytes(&self, bytes: &[u8]) -> Result {
        if _IOC_DIR(self.cmd) & IOC_READ == 0 {
            return Err(EINVAL);
        }
        UserSlice::new(self.arg, bytes.len())
            .writer()
            .write_slice(bytes)
    }
}
