// SPDX-License-Identifier: GPL-2.0

//! The hypervisor's error type: a negative Linux errno, as ACRN puts it in RAX, plus the
//! source location that produced it (RVM1.5's `HvError`, without the message).
//!
//! Build one with [`hv_err!`](crate::hv_err): `return Err(hv_err!(EINVAL))`. The errno constants are the
//! ones of `acrn_uapi::hv` (re-exported here), so `hv_err!(EINVAL)` is `-22`.
//!
//! ACRN itself returns a bare `-1` from most `hcall_*` failure paths; numerically that is
//! `-EPERM`, and this crate writes it as `hv_err!(EPERM)` with a comment naming the ACRN
//! function, so RAX stays bit-identical to ACRN's.

use core::fmt;

pub use acrn_uapi::hv::{
    EBUSY, EEXIST, EFAULT, EINVAL, EIO, ENODEV, ENOENT, ENOMEM, ENOTTY, EPERM,
};

/// A failed hypervisor operation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HvError {
    /// Negative Linux errno (`-EINVAL` …), the value a hypercall returns in RAX.
    pub errno: i32,
    /// Source file that built the error.
    pub file: &'static str,
    /// Source line that built the error.
    pub line: u32,
}

impl HvError {
    /// An error with errno `-errno` (pass the positive constant, e.g. `EINVAL`).
    pub const fn new(errno: i32, file: &'static str, line: u32) -> Self {
        Self {
            errno: -errno,
            file,
            line,
        }
    }

    /// The hypercall return value (RAX is this, sign-extended).
    pub const fn code(&self) -> i32 {
        self.errno
    }
}

impl fmt::Debug for HvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HvError({} at {}:{})", self.errno, self.file, self.line)
    }
}

impl fmt::Display for HvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "errno {} ({}:{})", self.errno, self.file, self.line)
    }
}

/// Result of a hypervisor operation.
pub type HvResult<T = ()> = Result<T, HvError>;

/// Builds an [`HvError`] with errno `-$errno` and the caller's file and line:
/// `hv_err!(EINVAL)`.
#[macro_export]
macro_rules! hv_err {
    ($errno:expr) => {
        $crate::error::HvError::new($errno, file!(), line!())
    };
}

/// Converts an [`HvResult<()>`] into ACRN's `int32_t` convention: 0 or a negative errno.
pub fn to_ret(r: HvResult) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_is_negative_with_location() {
        let e = hv_err!(EINVAL);
        assert_eq!(e.errno, -22);
        assert!(e.file.ends_with("error.rs"));
        assert!(e.line > 0);
        assert_eq!(to_ret(Err(hv_err!(EPERM))), -1);
        assert_eq!(to_ret(Ok(())), 0);
    }
}
