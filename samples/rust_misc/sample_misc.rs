// SPDX-License-Identifier: GPL-2.0

//! Sample misc device `/dev/acrn_rs_sample` on the acrn-rs kernel extensions (`rust/`).
//!
//! Each open file holds one `u64` behind a mutex; ioctls set, get, exchange and add to it
//! (see `acrn_rs_sample.h`), and report how many files are open. A file can also run vhost's
//! kick/call path: writes to a "kick" eventfd wake a worker thread that increments a counter
//! in the caller's memory and signals a "call" eventfd. The selftests in `selftests/rust_misc`
//! drive it to check the misc device abstraction (open, release, per-file state, module
//! reference), the typed ioctl arguments (`EFAULT` on bad pointers, `ENOTTY` for unknown
//! commands), eventfds, poll hooks and workers, and concurrent use.

use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::{
    c_str,
    ioctl::{_IO, _IOR, _IOW, _IOWR},
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    types::{AsBytes, FromBytes},
    uaccess::UserSlice,
};

#[path = "../../rust/lib.rs"]
mod kext;

use kext::{
    eventfd::{EventFd, PollHandler, PollHook, POLLIN},
    ioctl::IoctlArg,
    miscdev::{MiscDevice, Registration},
    worker::{WorkHandler, Worker},
};

module! {
    type: SampleMisc,
    name: "acrn_rs_sample_misc",
    author: "acrn-rs developers",
    description: "Sample misc device on the acrn-rs kernel extensions",
    license: "GPL",
}

const SAMPLE_TYPE: u32 = 0xA3;
const SAMPLE_SET: u32 = _IOW::<u64>(SAMPLE_TYPE, 0x00);
const SAMPLE_GET: u32 = _IOR::<u64>(SAMPLE_TYPE, 0x01);
const SAMPLE_XCHG: u32 = _IOWR::<Xchg>(SAMPLE_TYPE, 0x02);
const SAMPLE_ADD: u32 = _IO(SAMPLE_TYPE, 0x03);
const SAMPLE_OPEN_FILES: u32 = _IO(SAMPLE_TYPE, 0x04);
const SAMPLE_SET_KICK: u32 = _IOW::<KickArg>(SAMPLE_TYPE, 0x05);
const SAMPLE_FAULTS: u32 = _IO(SAMPLE_TYPE, 0x06);

/// `struct acrn_rs_sample_xchg`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Xchg {
    value: u64,
    old: u64,
}

// SAFETY: Two `u64`s: every bit pattern is valid.
unsafe impl FromBytes for Xchg {}
// SAFETY: Two `u64`s in a `repr(C)` struct: no padding, no uninitialised bytes.
unsafe impl AsBytes for Xchg {}

/// `struct acrn_rs_sample_kick`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct KickArg {
    kick_fd: i32,
    call_fd: i32,
    counter_addr: u64,
}

// SAFETY: Integers only: every bit pattern is valid.
unsafe impl FromBytes for KickArg {}

/// The worker's job: increment the counter in the owner's memory, then signal "call".
struct KickRun {
    counter_addr: usize,
    call: EventFd,
    faults: AtomicUsize,
}

impl WorkHandler for KickRun {
    fn run(&self) -> bool {
        // The worker runs in the owner's mm, so this user address is the owner's.
        let (mut reader, mut writer) = UserSlice::new(self.counter_addr, 8).reader_writer();
        let updated = reader
            .read::<u64>()
            .and_then(|value| writer.write(&value.wrapping_add(1)));
        if updated.is_err() {
            self.faults.fetch_add(1, Ordering::Relaxed);
        }
        self.call.signal();
        false
    }
}

/// The poll hook's job, in the kick eventfd's wake-up context: wake the worker.
struct KickWake {
    worker: Arc<Worker<KickRun>>,
}

impl PollHandler for KickWake {
    fn wake(&self, _mask: u32) {
        self.worker.wake();
    }
}

/// An active kick path. Fields drop in order: first unhook, then stop the worker.
struct Kick {
    _hook: PollHook<KickWake>,
    worker: Arc<Worker<KickRun>>,
}

impl Kick {
    fn new(arg: &KickArg) -> Result<Self> {
        let run = KickRun {
            counter_addr: arg.counter_addr as usize,
            call: EventFd::from_fd(arg.call_fd)?,
            faults: AtomicUsize::new(0),
        };
        let worker = Arc::new(
            Worker::new(c_str!("acrn-rs-sample"), Arc::new(run, GFP_KERNEL)?)?,
            GFP_KERNEL,
        )?;
        let wake = Arc::new(
            KickWake {
                worker: worker.clone(),
            },
            GFP_KERNEL,
        )?;
        let (hook, ready) = PollHook::new(arg.kick_fd, POLLIN, wake)?;
        if ready & POLLIN != 0 {
            worker.wake();
        }
        Ok(Self {
            _hook: hook,
            worker,
        })
    }
}

/// Number of open files of the device.
static OPEN_FILES: AtomicUsize = AtomicUsize::new(0);

/// The state of one open file.
#[pin_data(PinnedDrop)]
struct SampleFile {
    #[pin]
    value: Mutex<u64>,
    #[pin]
    kick: Mutex<Option<Kick>>,
}

#[pinned_drop]
impl PinnedDrop for SampleFile {
    fn drop(self: Pin<&mut Self>) {
        OPEN_FILES.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SampleFile {
    fn xchg(&self, arg: IoctlArg) -> Result<isize> {
        let mut xchg: Xchg = arg.read()?;
        {
            let mut value = self.value.lock();
            xchg.old = *value;
            *value = xchg.value;
        }
        // The guard is dropped before copying out to userspace. If the copy out fails, the
        // exchange is undone (unless another caller changed the value meanwhile), so a failed
        // command leaves the state as it was.
        if let Err(e) = arg.write(&xchg) {
            let mut value = self.value.lock();
            if *value == xchg.value {
                *value = xchg.old;
            }
            return Err(e);
        }
        Ok(0)
    }

    fn set_kick(&self, arg: IoctlArg) -> Result<isize> {
        let kick_arg: KickArg = arg.read()?;
        let new = if kick_arg.kick_fd < 0 {
            None
        } else {
            Some(Kick::new(&kick_arg)?)
        };
        let old = core::mem::replace(&mut *self.kick.lock(), new);
        // Stopping the old worker sleeps: do it after unlocking.
        drop(old);
        Ok(0)
    }

    fn faults(&self) -> isize {
        self.kick.lock().as_ref().map_or(0, |kick| {
            kick.worker.handler().faults.load(Ordering::Relaxed) as isize
        })
    }

    fn add(&self, arg: IoctlArg) -> Result<isize> {
        let mut value = self.value.lock();
        let sum = value
            .checked_add(arg.value() as u64)
            .ok_or_else(kext::errno::eoverflow)?;
        *value = sum;
        Ok(0)
    }
}

#[vtable]
impl MiscDevice for SampleFile {
    type Ptr = Pin<KBox<SampleFile>>;

    fn open() -> Result<Self::Ptr> {
        let file = KBox::pin_init(
            pin_init!(SampleFile {
                value <- new_mutex!(0),
                kick <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )?;
        OPEN_FILES.fetch_add(1, Ordering::Relaxed);
        Ok(file)
    }

    fn ioctl(me: Pin<&SampleFile>, arg: IoctlArg) -> Result<isize> {
        match arg.cmd() {
            SAMPLE_SET => {
                let new: u64 = arg.read()?;
                *me.value.lock() = new;
                Ok(0)
            }
            SAMPLE_GET => {
                let value = *me.value.lock();
                arg.write(&value)?;
                Ok(0)
            }
            SAMPLE_XCHG => me.xchg(arg),
            SAMPLE_ADD => me.add(arg),
            SAMPLE_OPEN_FILES => Ok(OPEN_FILES.load(Ordering::Relaxed) as isize),
            SAMPLE_SET_KICK => me.set_kick(arg),
            SAMPLE_FAULTS => Ok(me.faults()),
            _ => Err(ENOTTY),
        }
    }
}

struct SampleMisc {
    _device: Registration<SampleFile>,
}

impl kernel::Module for SampleMisc {
    fn init(module: &'static ThisModule) -> Result<Self> {
        Ok(Self {
            _device: Registration::register(c_str!("acrn_rs_sample"), module)?,
        })
    }
}
