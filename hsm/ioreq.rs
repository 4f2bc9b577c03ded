// SPDX-License-Identifier: GPL-2.0

//! The I/O requests of one VM (Linux `drivers/virt/acrn/ioreq.c`): its pinned request page,
//! its clients, the dispatch of pending requests and their completion.
//!
//! The page holds one 256-byte slot per vCPU, shared with the hypervisor and the device model.
//! A slot is PENDING when the hypervisor hands a request over; the dispatcher (run from the
//! upcall, [`crate::upcall`]) reads it with an acquire load of `processed`, answers the PCI
//! configuration ports 0xCF8/0xCFC itself or turns a 0xCFC access into a PCICFG request, picks
//! the client by (type, range), writes `kernel_handled` and publishes PROCESSING with a release
//! store. Completion publishes COMPLETE with a release store and, unless the hypervisor polls
//! (`completion_polling`), issues `HC_NOTIFY_REQUEST_FINISH`.
//!
//! The slots are written by others at any time (a buggy DM may scribble on them), so they are
//! only accessed through raw pointers: volatile copies for the request body and atomics for
//! `processed`. Kernel handlers work on a private copy.
//!
//! Locking: `clients` (a mutex) guards the client set. `notify` (a spinlock) is held across
//! every completion and says whether the VM is alive: once `DESTROY_VM` starts, completions
//! stop notifying the hypervisor (the VM id may be handed to a new VM) and are replayed if the
//! hypervisor refuses the destroy. A spinlock, as in C: the notification lets the guest issue
//! its next request at once, whose upcall must not find the DM preempted holding a lock the
//! dispatcher needs (two more context switches per request).

use crate::{
    acrn::{
        IoRequest, IoRequestReqs, ACRN_IOREQ_DIR_READ, ACRN_IOREQ_DIR_WRITE,
        ACRN_IOREQ_STATE_COMPLETE, ACRN_IOREQ_STATE_PENDING, ACRN_IOREQ_STATE_PROCESSING,
        ACRN_IOREQ_TYPE_MMIO, ACRN_IOREQ_TYPE_PCICFG, ACRN_IOREQ_TYPE_PORTIO, ACRN_IO_REQUEST_MAX,
    },
    client::{swap_remove, Client, Completion},
    guest_ram::GuestRam,
    hypercall,
    mm::PinnedPages,
    upcall,
};
use core::{
    ptr::{addr_of, addr_of_mut, NonNull},
    sync::atomic::{AtomicBool, AtomicU32, Ordering},
};
use kernel::{
    bindings, new_mutex, new_spinlock,
    prelude::*,
    sync::{Arc, Mutex, SpinLock},
};

/// PCI configuration address port.
const PCI_CONF_ADDR: u64 = 0xcf8;
/// First PCI configuration data port (four ports).
const PCI_CONF_DATA: u64 = 0xcfc;
/// Enable bit of the configuration address.
const CONF1_ENABLE: u32 = 0x8000_0000;

/// The client set of a VM, behind [`Ioreqs::clients`].
struct Clients {
    /// The device model's client.
    default: Option<Arc<Client>>,
    /// Kernel clients, oldest first (searched newest first, as C's `list_add` order).
    kernel: KVec<Arc<Client>>,
}

/// Completion state of a VM, behind [`Ioreqs::notify`].
struct Notify {
    /// False from the start of `DESTROY_VM`: completions do not notify the hypervisor.
    alive: bool,
    /// vCPUs whose completion was not notified while `!alive`.
    unnotified: u32,
}

/// The I/O request state of one VM.
///
/// # Invariants
///
/// `slots` points to the `vcpu_num` (at most [`ACRN_IO_REQUEST_MAX`]) slots of the page that
/// `page` keeps pinned.
#[pin_data]
pub(crate) struct Ioreqs {
    vmid: u16,
    vcpu_num: u16,
    page: PinnedPages,
    slots: NonNull<IoRequest>,
    #[pin]
    clients: Mutex<Clients>,
    #[pin]
    notify: SpinLock<Notify>,
    /// `CLEAR_VM_IOREQ` in progress: the dispatcher completes requests at once.
    clearing: AtomicBool,
    /// Last value written to port 0xCF8 (only the dispatcher, one at a time, touches it).
    pci_conf_addr: AtomicU32,
    /// The VM's guest RAM, kept mapped as long as this object (and so any VM reference of a
    /// kernel client) lives.
    ram: Arc<GuestRam>,
}

// SAFETY: `slots` points into a pinned page that any thread may access (all accesses are
// volatile or atomic); everything else is `Send`.
unsafe impl Send for Ioreqs {}
// SAFETY: Shared accesses to the slots are volatile or atomic; the rest is behind a mutex or
// atomic.
unsafe impl Sync for Ioreqs {}

impl Ioreqs {
    /// The state of VM `vmid` with `vcpu_num` vCPUs and the pinned request page `page`.
    pub(crate) fn new(vmid: u16, vcpu_num: u16, page: PinnedPages) -> Result<Arc<Self>> {
        if page.len() != 1 {
            return Err(EINVAL);
        }
        let slots = NonNull::new(page.kernel_addr(0).cast::<IoRequest>()).ok_or(EINVAL)?;
        let vcpu_num = vcpu_num.min(ACRN_IO_REQUEST_MAX as u16);
        let ram = GuestRam::new()?;
        Arc::pin_init(
            // INVARIANT: `slots` is the kernel address of the pinned page, which holds
            // `ACRN_IO_REQUEST_MAX` slots.
            pin_init!(Self {
                vmid,
                vcpu_num,
                page,
                slots,
                clients <- new_mutex!(Clients {
                    default: None,
                    kernel: KVec::new(),
                }),
                notify <- new_spinlock!(Notify {
                    alive: true,
                    unnotified: 0,
                }),
                clearing: AtomicBool::new(false),
                pci_conf_addr: AtomicU32::new(0),
                ram,
            }),
            GFP_KERNEL,
        )
    }

    /// The VM id.
    pub(crate) fn vmid(&self) -> u16 {
        self.vmid
    }

    /// The VM's guest RAM mappings.
    pub(crate) fn ram(&self) -> &GuestRam {
        &self.ram
    }

    /// The number of vCPUs (slots in use).
    pub(crate) fn vcpu_num(&self) -> u16 {
        self.vcpu_num
    }

    /// Slot of `vcpu`, which must be below `vcpu_num`.
    fn slot(&self, vcpu: u16) -> *mut IoRequest {
        debug_assert!(vcpu < self.vcpu_num);
        // SAFETY: By the type invariant `slots` has `vcpu_num > vcpu` elements.
        unsafe { self.slots.as_ptr().add(usize::from(vcpu)) }
    }

    /// The `processed` field of `vcpu`'s slot.
    fn state(&self, vcpu: u16) -> &AtomicU32 {
        // SAFETY: The slot is valid (pinned page) and `processed` is 4-byte aligned; every
        // access to it in the kernel is atomic.
        unsafe { AtomicU32::from_ptr(addr_of_mut!((*self.slot(vcpu)).processed)) }
    }

    /// A copy of `vcpu`'s slot.
    fn read_slot(&self, vcpu: u16) -> IoRequest {
        // SAFETY: The slot is valid; a volatile copy tolerates concurrent writers.
        unsafe { self.slot(vcpu).read_volatile() }
    }

    /// Writes `ty` and `reqs` back into `vcpu`'s slot.
    fn write_back(&self, vcpu: u16, ty: u32, reqs: &IoRequestReqs) {
        let slot = self.slot(vcpu);
        // SAFETY: The slot is valid and ours (PENDING or PROCESSING) until completion.
        unsafe {
            addr_of_mut!((*slot).r#type).write_volatile(ty);
            addr_of_mut!((*slot).reqs).write_volatile(*reqs);
        }
    }

    /// Marks `vcpu`'s request COMPLETE and notifies the hypervisor unless it polls (C
    /// `ioreq_complete_request`). The caller has taken the request from its client.
    fn finish(&self, vcpu: u16) -> Result {
        let slot = self.slot(vcpu);
        let mut notify = self.notify.lock();
        // Read before COMPLETE is published: the hypervisor reuses the slot after that.
        // SAFETY: The slot is valid.
        let polling = unsafe { addr_of!((*slot).completion_polling).read_volatile() } != 0;
        // Release: the handler's writes to the slot are visible before COMPLETE.
        self.state(vcpu)
            .store(ACRN_IOREQ_STATE_COMPLETE, Ordering::Release);
        if polling {
            return Ok(());
        }
        if !notify.alive {
            notify.unnotified |= 1 << vcpu;
            return Ok(());
        }
        hypercall::notify_request_finish(self.vmid, vcpu).inspect_err(|e| {
            pr_err!(
                "VM {}: notifying the completion of vCPU {} failed: {:?}\n",
                self.vmid,
                vcpu,
                e
            );
        })
    }

    /// Scans the slots once and hands every PENDING request to its handler (C
    /// `acrn_ioreq_dispatch`). Runs in the dispatcher only.
    pub(crate) fn dispatch(&self) {
        for vcpu in 0..self.vcpu_num {
            // Acquire: the request body written before PENDING is visible below.
            if self.state(vcpu).load(Ordering::Acquire) != ACRN_IOREQ_STATE_PENDING {
                continue;
            }
            if self.clearing.load(Ordering::Acquire) {
                let _ = self.finish(vcpu);
                continue;
            }
            let mut req = self.read_slot(vcpu);
            let handled = self.pci_cf8_cfc(&mut req);
            self.write_back(vcpu, req.r#type, &req.reqs);
            if handled {
                let _ = self.finish(vcpu);
                continue;
            }
            let clients = self.clients.lock();
            let Some(client) = find_client(&clients, &req) else {
                pr_err!(
                    "VM {}: no client for the request of vCPU {}\n",
                    self.vmid,
                    vcpu
                );
                return;
            };
            let kernel_handled = u32::from(!client.is_default());
            // SAFETY: The slot is valid and ours while PENDING.
            unsafe {
                addr_of_mut!((*self.slot(vcpu)).kernel_handled).write_volatile(kernel_handled)
            };
            // Release: the rewritten request and `kernel_handled` are visible before
            // PROCESSING.
            self.state(vcpu)
                .store(ACRN_IOREQ_STATE_PROCESSING, Ordering::Release);
            client.mark(vcpu);
            drop(clients);
            if client.is_default() {
                client.wake();
            }
            if let Some(handler) = client.handler() {
                if handler.handle(vcpu, &mut req) == Completion::Now {
                    let _ = self.complete(&client, vcpu, &req);
                }
            }
        }
    }

    /// Answers the PCI configuration mechanism #1 ports (C `handle_cf8cfc`): 0xCF8 and
    /// 0xCFC with the enable bit clear are handled here (returns `true`); an enabled 0xCFC
    /// access becomes a PCICFG request for bus/device/function/register.
    fn pci_cf8_cfc(&self, req: &mut IoRequest) -> bool {
        if req.r#type != ACRN_IOREQ_TYPE_PORTIO {
            return false;
        }
        // SAFETY: The type is PORTIO, so `reqs` holds a PIO request (any bits are valid).
        let pio = unsafe { &mut req.reqs.pio_request };
        if pio.address == PCI_CONF_ADDR {
            // C warns on a size other than 4; a guest must not be able to cause a splat.
            if pio.direction == ACRN_IOREQ_DIR_WRITE {
                self.pci_conf_addr.store(pio.value, Ordering::Relaxed);
            } else {
                pio.value = self.pci_conf_addr.load(Ordering::Relaxed);
            }
            return true;
        }
        if !(PCI_CONF_DATA..PCI_CONF_DATA + 4).contains(&pio.address) {
            return false;
        }
        let addr = self.pci_conf_addr.load(Ordering::Relaxed);
        if addr & CONF1_ENABLE == 0 {
            if pio.direction == ACRN_IOREQ_DIR_READ {
                pio.value = 0xffff_ffff;
            }
            return true;
        }
        let offset = (pio.address - PCI_CONF_DATA) as u32;
        req.r#type = ACRN_IOREQ_TYPE_PCICFG;
        // SAFETY: `acrn_pci_request` shares direction, size and value with the PIO request;
        // all its fields are integers, so any bits are valid.
        let pci = unsafe { &mut req.reqs.pci_request };
        pci.bus = (addr >> 16) & 0xff;
        pci.dev = (addr >> 11) & 0x1f;
        pci.func = (addr >> 8) & 0x7;
        pci.reg = (addr & 0xfc) + ((addr >> 16) & 0xf00) + offset;
        false
    }

    /// Completes `vcpu`'s request held by kernel client `client`, copying `req.reqs` (the
    /// value of a read) into the slot. `EINVAL` if `vcpu` is out of range, `ENOENT` if the
    /// client does not hold that request.
    pub(crate) fn complete(&self, client: &Client, vcpu: u16, req: &IoRequest) -> Result {
        if vcpu >= self.vcpu_num {
            return Err(EINVAL);
        }
        if !client.take(vcpu) {
            return Err(ENOENT);
        }
        let ty = self.read_slot(vcpu).r#type;
        self.write_back(vcpu, ty, &req.reqs);
        self.finish(vcpu)
    }

    /// `ACRN_IOCTL_NOTIFY_REQUEST_FINISH` (C `acrn_ioreq_request_default_complete`): 0 without
    /// a default client; `EINVAL` for a vCPU out of range.
    pub(crate) fn notify_finish(&self, vcpu: u16) -> Result {
        let clients = self.clients.lock();
        let Some(default) = &clients.default else {
            return Ok(());
        };
        if vcpu >= self.vcpu_num {
            return Err(EINVAL);
        }
        // C marks the slot COMPLETE even when the DM holds no request for it, which can
        // complete a request the dispatcher has not handed out yet; we leave such slots alone.
        if !default.take(vcpu) {
            return Ok(());
        }
        drop(clients);
        self.finish(vcpu)
    }

    /// `ACRN_IOCTL_CREATE_IOREQ_CLIENT`: `EEXIST` if the VM has a default client.
    pub(crate) fn create_default(&self) -> Result {
        let client = Client::new(None)?;
        let mut clients = self.clients.lock();
        if clients.default.is_some() {
            return Err(EEXIST);
        }
        clients.default = Some(client);
        Ok(())
    }

    /// `ACRN_IOCTL_ATTACH_IOREQ_CLIENT`: waits for requests for the default client; `ENODEV`
    /// if there is none or it is destroyed meanwhile.
    pub(crate) fn attach(&self) -> Result {
        let client = self.clients.lock().default.clone().ok_or(ENODEV)?;
        client.wait()
    }

    /// `ACRN_IOCTL_DESTROY_IOREQ_CLIENT`: destroys the default client, if any; its waiter
    /// leaves with `ENODEV`.
    pub(crate) fn destroy_default(&self) {
        let client = self.clients.lock().default.clone();
        if let Some(client) = client {
            self.destroy_client(&client);
        }
    }

    /// Adds a kernel client.
    pub(crate) fn add_client(&self, client: Arc<Client>) -> Result {
        if client.is_default() {
            return Err(EINVAL);
        }
        let mut clients = self.clients.lock();
        if !self.notify.lock().alive {
            return Err(ENODEV);
        }
        clients.kernel.push(client, GFP_KERNEL)?;
        Ok(())
    }

    /// Destroys `client` (C `acrn_ioreq_client_destroy`): with dispatching paused, marks it
    /// destroying (waking its waiter) and removes it. Once this returns its handler is not
    /// running and is never called again. Must not be called from a handler.
    pub(crate) fn destroy_client(&self, client: &Arc<Client>) {
        let _paused = upcall::Paused::new();
        client.shut_down();
        let mut clients = self.clients.lock();
        if clients
            .default
            .as_ref()
            .is_some_and(|d| Arc::ptr_eq(d, client))
        {
            clients.default = None;
        } else if let Some(i) = clients.kernel.iter().position(|c| Arc::ptr_eq(c, client)) {
            drop(swap_remove(&mut clients.kernel, i));
        }
    }

    /// `ACRN_IOCTL_CLEAR_VM_IOREQ` (C `acrn_ioreq_request_clear`): new requests are completed
    /// at once; kernel clients get up to 100 ms to finish theirs; then every request the
    /// device model holds is completed.
    pub(crate) fn clear(&self) {
        self.clearing.store(true, Ordering::Release);
        for _ in 0..10 {
            let busy = self.clients.lock().kernel.iter().any(|c| c.has_pending());
            if !busy {
                break;
            }
            // SAFETY: Sleeping is allowed here (ioctl context, no lock held).
            unsafe { bindings::msleep(10) };
        }
        let default = self.clients.lock().default.clone();
        if let Some(default) = default {
            for vcpu in 0..self.vcpu_num {
                if default.take(vcpu) {
                    let _ = self.finish(vcpu);
                }
            }
        }
        self.clearing.store(false, Ordering::Release);
    }

    /// Stops (`false`) or resumes (`true`) completion notifications around `HC_DESTROY_VM`;
    /// resuming notifies the completions made meanwhile.
    pub(crate) fn set_alive(&self, alive: bool) {
        let mut notify = self.notify.lock();
        notify.alive = alive;
        if alive {
            let missed = core::mem::replace(&mut notify.unnotified, 0);
            for vcpu in (0..self.vcpu_num).filter(|v| missed & (1 << v) != 0) {
                let _ = hypercall::notify_request_finish(self.vmid, vcpu);
            }
        }
    }

    /// Destroys every client (C `acrn_ioreq_deinit`), once the VM is gone.
    pub(crate) fn deinit(&self) {
        let _paused = upcall::Paused::new();
        let (default, kernel) = {
            let mut clients = self.clients.lock();
            self.notify.lock().alive = false;
            (
                clients.default.take(),
                core::mem::replace(&mut clients.kernel, KVec::new()),
            )
        };
        for client in Iterator::chain(default.iter(), kernel.iter()) {
            client.shut_down();
        }
    }
}

/// The client for `req`: the newest kernel client claiming it, else the default client.
fn find_client(clients: &Clients, req: &IoRequest) -> Option<Arc<Client>> {
    let (addr, size) = match req.r#type {
        // SAFETY: The type says which variant `reqs` holds; all fields are integers.
        ACRN_IOREQ_TYPE_MMIO => unsafe {
            (req.reqs.mmio_request.address, req.reqs.mmio_request.size)
        },
        // SAFETY: As above.
        ACRN_IOREQ_TYPE_PORTIO => unsafe {
            (req.reqs.pio_request.address, req.reqs.pio_request.size)
        },
        _ => return clients.default.clone(),
    };
    clients
        .kernel
        .iter()
        .rev()
        .find(|c| c.claims(req.r#type, addr, size))
        .or(clients.default.as_ref())
        .cloned()
}
