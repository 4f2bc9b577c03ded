// SPDX-License-Identifier: GPL-2.0

//! ioeventfd (Linux `drivers/virt/acrn/ioeventfd.c`, `ACRN_IOCTL_IOEVENTFD`): a guest write
//! to a given port or MMIO address signals an eventfd in the kernel, without a trip to the
//! device model. This is how virtio queue notifications ("kicks") reach vhost.
//!
//! Each VM has one kernel I/O request client ("ioeventfd") claiming the registered
//! addresses. Its handler signals the eventfd whose address, type and length match (and data,
//! with `ACRN_IOEVENTFD_FLAG_DATAMATCH`), and completes the request at once; reads return 0.

use crate::{
    acrn::{
        IoRequest, Ioeventfd as IoeventfdArgs, ACRN_IOEVENTFD_FLAG_DATAMATCH,
        ACRN_IOEVENTFD_FLAG_DEASSIGN, ACRN_IOEVENTFD_FLAG_PIO, ACRN_IOREQ_DIR_READ,
        ACRN_IOREQ_TYPE_MMIO, ACRN_IOREQ_TYPE_PORTIO,
    },
    client::{swap_remove, Client, Completion, IoreqHandler},
    ioreq::Ioreqs,
    kext::eventfd::EventFd,
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// One registered ioeventfd.
struct Entry {
    eventfd: EventFd,
    addr: u64,
    /// The value to match, `None` for any value (no `DATAMATCH`).
    data: Option<u64>,
    len: u32,
    ty: u32,
}

impl Entry {
    /// The range this entry claims in the client.
    fn end(&self) -> u64 {
        self.addr + u64::from(self.len) - 1
    }
}

/// The ioeventfds of one VM; the handler of its "ioeventfd" client.
#[pin_data]
pub(crate) struct Ioeventfds {
    #[pin]
    entries: Mutex<KVec<Entry>>,
}

impl IoreqHandler for Ioeventfds {
    fn handle(&self, _vcpu: u16, req: &mut IoRequest) -> Completion {
        let (addr, size, value) = match req.r#type {
            ACRN_IOREQ_TYPE_MMIO => {
                // SAFETY: The type says `reqs` holds an MMIO request; all fields are integers.
                let mmio = unsafe { &mut req.reqs.mmio_request };
                if mmio.direction == ACRN_IOREQ_DIR_READ {
                    // Virtio notify registers are written, never read: reads give 0.
                    mmio.value = 0;
                    return Completion::Now;
                }
                (mmio.address, mmio.size, mmio.value)
            }
            ACRN_IOREQ_TYPE_PORTIO => {
                // SAFETY: As above, for a PIO request.
                let pio = unsafe { &mut req.reqs.pio_request };
                if pio.direction == ACRN_IOREQ_DIR_READ {
                    pio.value = 0;
                    return Completion::Now;
                }
                (pio.address, pio.size, u64::from(pio.value))
            }
            _ => return Completion::Now,
        };
        let entries = self.entries.lock();
        let hit = entries.iter().find(|e| {
            e.ty == req.r#type
                && e.addr == addr
                && u64::from(e.len) >= size
                && e.data.map_or(true, |d| d == value)
        });
        if let Some(e) = hit {
            e.eventfd.signal();
        }
        Completion::Now
    }
}

/// The ioeventfd state of one VM: the entries and the client that claims their addresses.
pub(crate) struct VmIoeventfds {
    set: Arc<Ioeventfds>,
    client: Arc<Client>,
}

impl VmIoeventfds {
    /// Creates the "ioeventfd" client of `ioreqs` (C `acrn_ioeventfd_init`).
    pub(crate) fn new(ioreqs: &Ioreqs) -> Result<Self> {
        let set = Arc::pin_init(
            pin_init!(Ioeventfds {
                entries <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )?;
        let client = Client::new(Some(set.clone()))?;
        ioreqs.add_client(client.clone())?;
        Ok(Self { set, client })
    }

    /// `ACRN_IOCTL_IOEVENTFD` (C `acrn_ioeventfd_config`). The reserved field is checked by
    /// the caller.
    pub(crate) fn config(&self, args: &IoeventfdArgs) -> Result {
        if args.flags & ACRN_IOEVENTFD_FLAG_DEASSIGN != 0 {
            self.deassign(args)
        } else {
            self.assign(args)
        }
    }

    fn assign(&self, args: &IoeventfdArgs) -> Result {
        if args.addr.checked_add(u64::from(args.len)).is_none() {
            return Err(EINVAL);
        }
        if !matches!(args.len, 1 | 2 | 4 | 8) {
            return Err(EINVAL);
        }
        let entry = Entry {
            // The fd is a C `u32` that `eventfd_ctx_fdget` takes as an int.
            eventfd: EventFd::from_fd(args.fd as i32)?,
            addr: args.addr,
            data: (args.flags & ACRN_IOEVENTFD_FLAG_DATAMATCH != 0).then_some(args.data),
            len: args.len,
            ty: if args.flags & ACRN_IOEVENTFD_FLAG_PIO != 0 {
                ACRN_IOREQ_TYPE_PORTIO
            } else {
                ACRN_IOREQ_TYPE_MMIO
            },
        };
        let mut entries = self.set.entries.lock();
        // Same eventfd, address and type, and data that can overlap: a duplicate.
        let conflict = entries.iter().any(|p| {
            p.eventfd.as_ptr() == entry.eventfd.as_ptr()
                && p.addr == entry.addr
                && p.ty == entry.ty
                && (p.data.is_none() || entry.data.is_none() || p.data == entry.data)
        });
        if conflict {
            return Err(EEXIST);
        }
        self.client.add_range(entry.ty, entry.addr, entry.end())?;
        if let Err(e) = entries.push(entry, GFP_KERNEL) {
            // Not reached in practice (GFP_KERNEL for one small entry); undo the range.
            let ty = if args.flags & ACRN_IOEVENTFD_FLAG_PIO != 0 {
                ACRN_IOREQ_TYPE_PORTIO
            } else {
                ACRN_IOREQ_TYPE_MMIO
            };
            self.client
                .del_range(ty, args.addr, args.addr + u64::from(args.len) - 1);
            return Err(e.into());
        }
        Ok(())
    }

    /// Removes the first ioeventfd of the eventfd `args.fd`, if any (C matches the eventfd
    /// only).
    fn deassign(&self, args: &IoeventfdArgs) -> Result {
        let eventfd = EventFd::from_fd(args.fd as i32)?;
        let mut entries = self.set.entries.lock();
        if let Some(i) = entries
            .iter()
            .position(|e| e.eventfd.as_ptr() == eventfd.as_ptr())
        {
            let entry = swap_remove(&mut entries, i);
            self.client.del_range(entry.ty, entry.addr, entry.end());
        }
        Ok(())
    }

    /// Destroys the client and drops every ioeventfd (C `acrn_ioeventfd_deinit`).
    pub(crate) fn deinit(&self, ioreqs: &Ioreqs) {
        ioreqs.destroy_client(&self.client);
        let entries = core::mem::replace(&mut *self.set.entries.lock(), KVec::new());
        drop(entries);
    }
}
