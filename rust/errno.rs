// SPDX-License-Identifier: GPL-2.0

//! Error codes that the 6.12 `kernel::error::code` list lacks.

use kernel::{bindings, error::Error};

/// The [`Error`] for the positive errno `e` (one of `bindings::E*`).
pub(crate) fn errno(e: u32) -> Error {
    Error::from_errno(-(e as i32))
}

/// `EOPNOTSUPP`: operation not supported.
pub(crate) fn eopnotsupp() -> Error {
    errno(bindings::EOPNOTSUPP)
}

/// `ENOBUFS`: no buffer space available (vhost: ring index out of range).
pub(crate) fn enobufs() -> Error {
    errno(bindings::ENOBUFS)
}

/// `ENOTSOCK`: not a socket.
pub(crate) fn enotsock() -> Error {
    errno(bindings::ENOTSOCK)
}

/// `EOVERFLOW`: value too large.
pub(crate) fn eoverflow() -> Error {
    errno(bindings::EOVERFLOW)
}
