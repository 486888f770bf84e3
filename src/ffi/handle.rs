//! Typed casts between the pointers C holds and the Rust objects behind them.
//!
//! Every opaque C object says how C holds it: a [`Boxed`] object is made by a
//! `_new`/`_start` function and released by its `_free` (C owns a box); a
//! [`Lent`] object lives on the engine's stack for the length of one callback
//! (C borrows it). Pointers from C become references only through the
//! functions here, so freeing a lent object, or casting to another type than
//! the pointer's, does not compile.

/// A C object that C owns through a box: `rws_X_new` -> `rws_X_free`.
pub(crate) trait Boxed: Sized {}

/// A C object lent to C for the length of one callback.
pub(crate) trait Lent {}

/// Moves `value` into a box that C now owns.
pub(crate) fn into_c<T: Boxed>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// The object behind `ptr`, or `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or came from [`into_c`] and was not freed, and no `&mut` to
/// the object is alive.
pub(crate) unsafe fn as_ref<'a, T: Boxed>(ptr: *const T) -> Option<&'a T> {
    // SAFETY: per this function's contract, a non-NULL `ptr` is a live box.
    unsafe { ptr.as_ref() }
}

/// The object behind `ptr` for mutation, or `None` for NULL.
///
/// # Safety
/// As for [`as_ref`], and no other reference to the object is alive (C uses
/// it from one thread at a time, as the header says).
pub(crate) unsafe fn as_mut<'a, T: Boxed>(ptr: *mut T) -> Option<&'a mut T> {
    // SAFETY: per this function's contract, a non-NULL `ptr` is a live box
    // that nothing else references.
    unsafe { ptr.as_mut() }
}

/// Drops the object behind `ptr`; NULL is a no-op.
///
/// # Safety
/// `ptr` is NULL or came from [`into_c`] and is freed only this once.
pub(crate) unsafe fn free<T: Boxed>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: per this function's contract, the box is live and freed once.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// The lent object behind `ptr`, or `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or the pointer handed to the callback that is running now.
pub(crate) unsafe fn lent_mut<'a, T: Lent>(ptr: *mut T) -> Option<&'a mut T> {
    // SAFETY: per this function's contract, the object outlives the callback.
    unsafe { ptr.as_mut() }
}

/// Evaluates to `&T` for a [`Boxed`] pointer argument, or returns
/// `RWS_ERR_NULL` from the enclosing function when it is NULL. Only for
/// arguments whose documented contract is "NULL or a live object".
macro_rules! try_ref {
    ($ptr:ident) => {
        // SAFETY: the exported function's contract: NULL or a live object.
        match unsafe { $crate::ffi::handle::as_ref($ptr) } {
            Some(r) => r,
            None => {
                return $crate::ffi::fail(
                    $crate::ffi::rws_result::RWS_ERR_NULL,
                    concat!(stringify!($ptr), " is NULL"),
                )
            }
        }
    };
}
pub(crate) use try_ref;

/// As [`try_ref!`], for `&mut T`.
macro_rules! try_mut {
    ($ptr:ident) => {
        // SAFETY: the exported function's contract: NULL or a live object used
        // from one thread at a time.
        match unsafe { $crate::ffi::handle::as_mut($ptr) } {
            Some(r) => r,
            None => {
                return $crate::ffi::fail(
                    $crate::ffi::rws_result::RWS_ERR_NULL,
                    concat!(stringify!($ptr), " is NULL"),
                )
            }
        }
    };
}
pub(crate) use try_mut;

/// As [`try_mut!`], for a [`Lent`] pointer.
macro_rules! try_lent {
    ($ptr:ident) => {
        // SAFETY: the exported function's contract: NULL or the running callback's object.
        match unsafe { $crate::ffi::handle::lent_mut($ptr) } {
            Some(r) => r,
            None => {
                return $crate::ffi::fail(
                    $crate::ffi::rws_result::RWS_ERR_NULL,
                    concat!(stringify!($ptr), " is NULL"),
                )
            }
        }
    };
}
pub(crate) use try_lent;
