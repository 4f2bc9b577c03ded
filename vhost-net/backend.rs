// SPDX-License-Identifier: GPL-2.0

//! The socket a virtqueue is served by: a tap (tun) file or a raw `AF_PACKET` socket, as
//! vhost_net's `get_socket()` accepts.

use crate::kext::errno::enotsock;
use core::ptr::NonNull;
use kernel::{error::from_err_ptr, ffi::c_void, prelude::*};

// `struct socket` is passed as an opaque pointer: only the C side looks inside.
extern "C" {
    fn vhost_net_rs_get_socket(fd: i32) -> *mut c_void;
    fn vhost_net_rs_put_socket(sock: *mut c_void);
}

/// A socket with a reference on its file.
///
/// # Invariants
///
/// `sock` is a valid socket whose file this object holds a reference on.
pub(crate) struct Socket {
    sock: NonNull<c_void>,
}

// SAFETY: Sockets are reference counted through their file and usable from any thread.
unsafe impl Send for Socket {}
// SAFETY: Socket operations do their own locking.
unsafe impl Sync for Socket {}

impl Socket {
    /// The socket behind `fd` in the current process: `ENOTSOCK` unless it is a tap file or
    /// a raw `AF_PACKET` socket.
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        // SAFETY: Any fd value is fine; the call returns a socket or an ERR_PTR.
        let sock = from_err_ptr(unsafe { vhost_net_rs_get_socket(fd) })?;
        // INVARIANT: the lookup succeeded and took a file reference.
        Ok(Self {
            sock: NonNull::new(sock).ok_or_else(enotsock)?,
        })
    }

    /// The raw `struct socket`.
    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self.sock.as_ptr()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold a file reference; this drops it.
        unsafe { vhost_net_rs_put_socket(self.sock.as_ptr()) };
    }
}
