// SPDX-License-Identifier: GPL-2.0

//! How the device reaches guest memory: the [`GuestMemory`] trait, and
//! [`MappedMemory`], which implements it with a [`MemTable`] over any [`UserAccess`].
//!
//! vhost uses two address spaces: descriptor buffers and indirect tables are
//! guest-physical (translated through the memory table by `translate_desc`), while the
//! rings themselves are at the owner's user addresses given by `VHOST_SET_VRING_ADDR`
//! (accessed directly with `__get_user` / `__put_user`). [`GuestMemory`] therefore has
//! guest-physical accessors and `*_ring` accessors; the ring ones default to the
//! guest-physical ones for users whose ring addresses are guest-physical.
//!
//! All values in the split ring are little-endian (VIRTIO 1.x, or legacy on x86).

use super::error::Error;
use super::memtable::{MemTable, MAX_MEM_REGIONS};

/// Guest memory as seen by the device. Every access is fallible; nothing here may panic
/// on a guest-chosen address.
///
/// The 16-bit ring accessors ([`GuestMemory::read_ring_u16`],
/// [`GuestMemory::write_ring_u16`]) read and write the ring indices the driver polls
/// concurrently: implementations must make them single 16-bit accesses (like vhost's
/// `__get_user` / `__put_user`), not byte copies that could tear. The defaults are only
/// correct if `read_ring` / `write_ring` of two aligned bytes do not tear.
pub trait GuestMemory {
    /// Reads `buf.len()` bytes at guest-physical `gpa`.
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), Error>;

    /// Writes `buf` at guest-physical `gpa`.
    fn write(&self, gpa: u64, buf: &[u8]) -> Result<(), Error>;

    /// Checks that `[gpa, gpa + len)` is guest memory the device may access. An empty
    /// range must be accepted.
    fn check_range(&self, gpa: u64, len: u64) -> Result<(), Error>;

    /// Reads ring memory at `addr` (an address as set by `VHOST_SET_VRING_ADDR`).
    fn read_ring(&self, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.read(addr, buf)
    }

    /// Writes ring memory at `addr`.
    fn write_ring(&self, addr: u64, buf: &[u8]) -> Result<(), Error> {
        self.write(addr, buf)
    }

    /// Checks that the ring range `[addr, addr + len)` is accessible (`vq_access_ok`).
    fn check_ring_range(&self, addr: u64, len: u64) -> Result<(), Error> {
        self.check_range(addr, len)
    }

    /// Reads a little-endian `u16` ring field (single access; see the trait docs).
    fn read_ring_u16(&self, addr: u64) -> Result<u16, Error> {
        let mut b = [0u8; 2];
        self.read_ring(addr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// Writes a little-endian `u16` ring field (single access; see the trait docs).
    fn write_ring_u16(&self, addr: u64, val: u16) -> Result<(), Error> {
        self.write_ring(addr, &val.to_le_bytes())
    }

    /// Reads a little-endian `u16` at guest-physical `gpa`.
    fn read_u16(&self, gpa: u64) -> Result<u16, Error> {
        let mut b = [0u8; 2];
        self.read(gpa, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// Reads a little-endian `u32` at guest-physical `gpa`.
    fn read_u32(&self, gpa: u64) -> Result<u32, Error> {
        let mut b = [0u8; 4];
        self.read(gpa, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Reads a little-endian `u64` at guest-physical `gpa`.
    fn read_u64(&self, gpa: u64) -> Result<u64, Error> {
        let mut b = [0u8; 8];
        self.read(gpa, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes a little-endian `u16` at guest-physical `gpa`.
    fn write_u16(&self, gpa: u64, val: u16) -> Result<(), Error> {
        self.write(gpa, &val.to_le_bytes())
    }

    /// Writes a little-endian `u32` at guest-physical `gpa`.
    fn write_u32(&self, gpa: u64, val: u32) -> Result<(), Error> {
        self.write(gpa, &val.to_le_bytes())
    }

    /// Writes a little-endian `u64` at guest-physical `gpa`.
    fn write_u64(&self, gpa: u64, val: u64) -> Result<(), Error> {
        self.write(gpa, &val.to_le_bytes())
    }
}

impl<T: GuestMemory + ?Sized> GuestMemory for &T {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), Error> {
        (**self).read(gpa, buf)
    }
    fn write(&self, gpa: u64, buf: &[u8]) -> Result<(), Error> {
        (**self).write(gpa, buf)
    }
    fn check_range(&self, gpa: u64, len: u64) -> Result<(), Error> {
        (**self).check_range(gpa, len)
    }
    fn read_ring(&self, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        (**self).read_ring(addr, buf)
    }
    fn write_ring(&self, addr: u64, buf: &[u8]) -> Result<(), Error> {
        (**self).write_ring(addr, buf)
    }
    fn check_ring_range(&self, addr: u64, len: u64) -> Result<(), Error> {
        (**self).check_ring_range(addr, len)
    }
    fn read_ring_u16(&self, addr: u64) -> Result<u16, Error> {
        (**self).read_ring_u16(addr)
    }
    fn write_ring_u16(&self, addr: u64, val: u16) -> Result<(), Error> {
        (**self).write_ring_u16(addr, val)
    }
}

/// Access to the owner's address space by user address (in the kernel:
/// `copy_{from,to}_user` / `get_user` / `put_user` in the owner's mm).
pub trait UserAccess {
    /// Reads `buf.len()` bytes at user address `uaddr`.
    fn read_user(&self, uaddr: u64, buf: &mut [u8]) -> Result<(), Error>;

    /// Writes `buf` at user address `uaddr`.
    fn write_user(&self, uaddr: u64, buf: &[u8]) -> Result<(), Error>;

    /// Reads a little-endian `u16` with a single access (`get_user`).
    fn read_user_u16(&self, uaddr: u64) -> Result<u16, Error> {
        let mut b = [0u8; 2];
        self.read_user(uaddr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// Writes a little-endian `u16` with a single access (`put_user`).
    fn write_user_u16(&self, uaddr: u64, val: u16) -> Result<(), Error> {
        self.write_user(uaddr, &val.to_le_bytes())
    }

    /// Checks that `[uaddr, uaddr + len)` may be accessed (`access_ok`). The default
    /// only rejects ranges that wrap past `u64::MAX`.
    fn check_user(&self, uaddr: u64, len: u64) -> Result<(), Error> {
        match len.checked_sub(1) {
            Some(l1) => uaddr.checked_add(l1).map(|_| ()).ok_or(Error::Overflow),
            None => Ok(()),
        }
    }
}

impl<T: UserAccess + ?Sized> UserAccess for &T {
    fn read_user(&self, uaddr: u64, buf: &mut [u8]) -> Result<(), Error> {
        (**self).read_user(uaddr, buf)
    }
    fn write_user(&self, uaddr: u64, buf: &[u8]) -> Result<(), Error> {
        (**self).write_user(uaddr, buf)
    }
    fn read_user_u16(&self, uaddr: u64) -> Result<u16, Error> {
        (**self).read_user_u16(uaddr)
    }
    fn write_user_u16(&self, uaddr: u64, val: u16) -> Result<(), Error> {
        (**self).write_user_u16(uaddr, val)
    }
    fn check_user(&self, uaddr: u64, len: u64) -> Result<(), Error> {
        (**self).check_user(uaddr, len)
    }
}

/// vhost's view of guest memory: guest-physical accesses go through `table` to user
/// addresses, ring accesses go to user addresses directly.
#[derive(Clone, Copy, Debug)]
pub struct MappedMemory<'t, A, const N: usize = MAX_MEM_REGIONS> {
    /// The `VHOST_SET_MEM_TABLE` translation.
    pub table: &'t MemTable<N>,
    /// Access to the owner's address space.
    pub access: A,
}

impl<'t, A: UserAccess, const N: usize> MappedMemory<'t, A, N> {
    /// Guest memory translated by `table` and reached through `access`.
    pub const fn new(table: &'t MemTable<N>, access: A) -> Self {
        MappedMemory { table, access }
    }
}

impl<A: UserAccess, const N: usize> GuestMemory for MappedMemory<'_, A, N> {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), Error> {
        let mut rest = buf;
        for piece in self.table.pieces(gpa, rest.len() as u64) {
            let (uaddr, n) = piece?;
            let n = usize::try_from(n).map_err(|_| Error::Overflow)?;
            if n > rest.len() {
                return Err(Error::Overflow);
            }
            let (head, tail) = core::mem::take(&mut rest).split_at_mut(n);
            self.access.read_user(uaddr, head)?;
            rest = tail;
        }
        Ok(())
    }

    fn write(&self, gpa: u64, buf: &[u8]) -> Result<(), Error> {
        let mut rest = buf;
        for piece in self.table.pieces(gpa, rest.len() as u64) {
            let (uaddr, n) = piece?;
            let n = usize::try_from(n).map_err(|_| Error::Overflow)?;
            if n > rest.len() {
                return Err(Error::Overflow);
            }
            let (head, tail) = rest.split_at(n);
            self.access.write_user(uaddr, head)?;
            rest = tail;
        }
        Ok(())
    }

    fn check_range(&self, gpa: u64, len: u64) -> Result<(), Error> {
        for piece in self.table.pieces(gpa, len) {
            let (uaddr, n) = piece?;
            self.access.check_user(uaddr, n)?;
        }
        Ok(())
    }

    fn read_ring(&self, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.access.read_user(addr, buf)
    }

    fn write_ring(&self, addr: u64, buf: &[u8]) -> Result<(), Error> {
        self.access.write_user(addr, buf)
    }

    fn check_ring_range(&self, addr: u64, len: u64) -> Result<(), Error> {
        self.access.check_user(addr, len)
    }

    fn read_ring_u16(&self, addr: u64) -> Result<u16, Error> {
        self.access.read_user_u16(addr)
    }

    fn write_ring_u16(&self, addr: u64, val: u16) -> Result<(), Error> {
        self.access.write_user_u16(addr, val)
    }
}
