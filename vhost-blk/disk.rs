// SPDX-License-Identifier: GPL-2.0

//! The disk behind a vhost-blk device (`VHOST_BLK_SET_BACKEND`): a regular file or a block
//! device, with its size and the synchronous operations (flush, discard, write zeroes, id).

use core::{ffi::c_void, ptr::NonNull};
use kernel::{error::from_err_ptr, prelude::*};

// `struct file` is passed as an opaque pointer: only the C side looks inside.
extern "C" {
    fn vhost_blk_rs_get_file(
        fd: i32,
        capacity: *mut u64,
        writable: *mut bool,
        fallocate: *mut bool,
    ) -> *mut c_void;
    fn vhost_blk_rs_put_file(file: *mut c_void);
    fn vhost_blk_rs_fsync(file: *mut c_void) -> i32;
    fn vhost_blk_rs_discard(file: *mut c_void, pos: u64, len: u64) -> i32;
    fn vhost_blk_rs_write_zeroes(file: *mut c_void, pos: u64, len: u64, unmap: bool) -> i32;
    fn vhost_blk_rs_id(file: *mut c_void, buf: *mut u8, len: usize);
}

/// A disk: a file reference, its size when attached and whether it may be written.
///
/// # Invariants
///
/// `file` is a regular file or block device on which this object holds a reference.
pub(crate) struct Disk {
    file: NonNull<c_void>,
    /// Size in bytes when attached; requests beyond it fail.
    pub(crate) capacity: u64,
    /// Opened for writing.
    pub(crate) writable: bool,
    /// Can discard and write zeroes (writable, and a block device or a file system with
    /// fallocate).
    pub(crate) fallocate: bool,
}

// SAFETY: A file reference may be used and dropped from any thread.
unsafe impl Send for Disk {}
// SAFETY: File operations do their own locking.
unsafe impl Sync for Disk {}

/// `Ok` for a C return of zero, else the errno.
fn check(ret: i32) -> Result {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}

impl Disk {
    /// The disk open as `fd` in the current process: `EBADF` if not open or not readable,
    /// `EINVAL` unless a regular file or a block device.
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        let (mut capacity, mut writable, mut fallocate) = (0u64, false, false);
        // SAFETY: Any fd is fine; the outputs are valid for writes. Returns a file or an
        // ERR_PTR.
        let file = from_err_ptr(unsafe {
            vhost_blk_rs_get_file(fd, &mut capacity, &mut writable, &mut fallocate)
        })?;
        // INVARIANT: the lookup succeeded and took a reference.
        Ok(Self {
            file: NonNull::new(file).ok_or(EBADF)?,
            capacity,
            writable,
            fallocate,
        })
    }

    /// The raw `struct file`.
    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self.file.as_ptr()
    }

    /// Whether `[pos, pos + len)` lies inside the disk.
    pub(crate) fn contains(&self, pos: u64, len: u64) -> bool {
        pos.checked_add(len).is_some_and(|end| end <= self.capacity)
    }

    /// `VIRTIO_BLK_T_FLUSH`: `vfs_fsync`.
    pub(crate) fn flush(&self) -> Result {
        // SAFETY: By the type invariant the file is valid.
        check(unsafe { vhost_blk_rs_fsync(self.as_ptr()) })
    }

    /// Discards `[pos, pos + len)` (inside the disk).
    pub(crate) fn discard(&self, pos: u64, len: u64) -> Result {
        // SAFETY: By the type invariant the file is valid.
        check(unsafe { vhost_blk_rs_discard(self.as_ptr(), pos, len) })
    }

    /// Zeroes `[pos, pos + len)` (inside the disk), deallocating it if `unmap` allows.
    pub(crate) fn write_zeroes(&self, pos: u64, len: u64, unmap: bool) -> Result {
        // SAFETY: By the type invariant the file is valid.
        check(unsafe { vhost_blk_rs_write_zeroes(self.as_ptr(), pos, len, unmap) })
    }

    /// The id string (`VIRTIO_BLK_T_GET_ID`): the file's name, NUL-padded.
    pub(crate) fn id(&self, buf: &mut [u8]) {
        // SAFETY: By the type invariant the file is valid; `buf` is valid for its length.
        unsafe { vhost_blk_rs_id(self.as_ptr(), buf.as_mut_ptr(), buf.len()) };
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold a reference; this drops it.
        unsafe { vhost_blk_rs_put_file(self.as_ptr()) };
    }
}
