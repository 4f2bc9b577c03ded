// SPDX-License-Identifier: GPL-2.0

//! Misc character devices: `/dev/<name>` with per-open-file state and ioctls.
//!
//! The 6.12 `kernel` crate has no misc device abstraction (upstream added
//! `kernel::miscdevice` in 6.13). This one keeps upstream's shape, so code ports forward easily:
//! a driver implements [`MiscDevice`] (a `#[vtable]` trait) and keeps a [`Registration`] alive
//! for as long as the device node should exist.
//!
//! Each open file owns one [`MiscDevice::Ptr`] (for example `Arc<Vm>` or `Pin<KBox<State>>`),
//! made by [`MiscDevice::open`] and handed back to [`MiscDevice::release`] when the last
//! reference to the file goes away. The file operations hold a reference on the module, so
//! the module can not be unloaded while a file is open.
//!
//! ```ignore
//! struct Sample;
//! #[vtable]
//! impl MiscDevice for Sample {
//!     type Ptr = KBox<Self>;
//!     fn open() -> Result<KBox<Self>> { KBox::new(Sample, GFP_KERNEL).map_err(Into::into) }
//!     fn ioctl(_me: &Sample, arg: IoctlArg) -> Result<isize> { Err(ENOTTY) }
//! }
//! let reg = Registration::<Sample>::register(c_str!("sample"), module)?;
//! ```

use super::ioctl::IoctlArg;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    bindings,
    error::{to_result, VTABLE_DEFAULT_ERROR},
    ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void},
    prelude::*,
    str::CStr,
    types::ForeignOwnable,
    ThisModule,
};

// `fops` is `const struct file_operations *`, passed as an opaque pointer: with some kernel
// configurations a struct it reaches has no fields, which `improper_ctypes` rejects.
extern "C" {
    fn acrn_rs_misc_register(
        name: *const c_char,
        fops: *const c_void,
        groups: *const c_void,
        out: *mut *mut c_void,
    ) -> c_int;
    fn acrn_rs_misc_deregister(misc: *mut c_void);
}

/// The operations of a misc device.
#[vtable]
pub(crate) trait MiscDevice: Sized {
    /// What each open file owns: its per-file state.
    type Ptr: ForeignOwnable + Send + Sync;

    /// Called on `open(2)`; returns the state the new file owns.
    fn open() -> Result<Self::Ptr>;

    /// Called when the last reference to the file is dropped; by default drops the state.
    fn release(device: Self::Ptr) {
        drop(device);
    }

    /// Called on `ioctl(2)`. The return value goes to userspace; unknown commands must return
    /// `ENOTTY`. Without this method the device answers every ioctl with `ENOTTY`.
    fn ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _arg: IoctlArg,
    ) -> Result<isize> {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The sysfs attribute groups of a misc device (`miscdevice.groups`): a NULL-terminated
/// `const struct attribute_group *[]` defined in C, where the `DEVICE_ATTR_*` macros are.
/// The attributes appear under `/sys/class/misc/<name>/` before the device is announced.
pub(crate) struct AttributeGroups(*const c_void);

// SAFETY: The array is immutable C data; sharing the pointer between threads is harmless.
unsafe impl Sync for AttributeGroups {}

impl AttributeGroups {
    /// Wraps the C array at `groups`.
    ///
    /// # Safety
    ///
    /// `groups` must point to a NULL-terminated array of attribute groups that lives as long
    /// as the module, and whose callbacks are sound to call while the device is registered.
    pub(crate) const unsafe fn from_raw(groups: *const c_void) -> Self {
        Self(groups)
    }
}

/// A registered misc device; dropping it removes the device node.
///
/// # Invariants
///
/// `misc` is the handle returned by a successful `acrn_rs_misc_register` with `fops`, and has
/// not been deregistered. `fops` lives on the heap, so its address is stable until `Drop`.
pub(crate) struct Registration<T: MiscDevice> {
    misc: NonNull<c_void>,
    fops: KBox<bindings::file_operations>,
    _device: PhantomData<T>,
}

// SAFETY: The handle is only used to deregister, which the misc core allows from any thread.
unsafe impl<T: MiscDevice> Send for Registration<T> {}
// SAFETY: `&Registration` exposes no operation at all.
unsafe impl<T: MiscDevice> Sync for Registration<T> {}

impl<T: MiscDevice> Registration<T> {
    /// Registers `/dev/<name>` with a dynamic minor, owned by `module`.
    pub(crate) fn register(name: &'static CStr, module: &'static ThisModule) -> Result<Self> {
        Self::register_with_groups(name, module, None)
    }

    /// As [`Registration::register`], with sysfs attributes on the device.
    pub(crate) fn register_with_groups(
        name: &'static CStr,
        module: &'static ThisModule,
        groups: Option<&'static AttributeGroups>,
    ) -> Result<Self> {
        let fops = KBox::new(
            bindings::file_operations {
                owner: module.as_ptr(),
                open: Some(open_callback::<T>),
                release: Some(release_callback::<T>),
                unlocked_ioctl: if T::HAS_IOCTL {
                    Some(ioctl_callback::<T>)
                } else {
                    None
                },
                ..Default::default()
            },
            GFP_KERNEL,
        )?;
        let mut misc = core::ptr::null_mut();
        // SAFETY: `name` is NUL-terminated and `'static`; `fops` is a valid table whose heap
        // address outlives the registration (it is dropped only after deregistering); the
        // groups, if any, are valid for the module's lifetime (`AttributeGroups::from_raw`);
        // `misc` is a valid place for the handle.
        to_result(unsafe {
            acrn_rs_misc_register(
                name.as_char_ptr(),
                (&*fops as *const bindings::file_operations).cast(),
                groups.map_or(core::ptr::null(), |g| g.0),
                &mut misc,
            )
        })?;
        let misc = NonNull::new(misc).ok_or(EINVAL)?;
        // INVARIANT: registration succeeded with this `fops`.
        Ok(Self {
            misc,
            fops,
            _device: PhantomData,
        })
    }
}

impl<T: MiscDevice> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `misc` is registered; after this call no new `open`
        // can start, and open files keep the module (and so the callbacks) alive. `fops` is
        // freed only after this, when the fields are dropped.
        unsafe { acrn_rs_misc_deregister(self.misc.as_ptr()) };
    }
}

/// `file_operations::open`.
///
/// # Safety
///
/// Called by the VFS with a valid `file` whose `private_data` the misc core set.
unsafe extern "C" fn open_callback<T: MiscDevice>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    match T::open() {
        Ok(state) => {
            // SAFETY: `file` is valid; we own `private_data` from here on (the misc core's
            // pointer is no longer needed once open runs).
            unsafe { (*file).private_data = state.into_foreign().cast_mut() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `file_operations::release`.
///
/// # Safety
///
/// Called by the VFS once per file whose `open_callback` succeeded, after every other file
/// operation on it has returned.
unsafe extern "C" fn release_callback<T: MiscDevice>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `file` is valid and `private_data` came from `into_foreign` in open; no
    // borrow is alive since no other file operation is running.
    let state = unsafe { T::Ptr::from_foreign((*file).private_data) };
    T::release(state);
    0
}

/// `file_operations::unlocked_ioctl`.
///
/// # Safety
///
/// Called by the VFS with a valid, open `file` whose `open_callback` succeeded.
unsafe extern "C" fn ioctl_callback<T: MiscDevice>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: `private_data` came from `into_foreign` in open, and release can not run while
    // this call is in progress, so the borrow stays valid for the whole call.
    let device = unsafe { T::Ptr::borrow((*file).private_data) };
    match T::ioctl(device, IoctlArg::new(cmd, arg)) {
        Ok(ret) => ret,
        Err(e) => e.to_errno() as c_long,
    }
}
