//! Unit tests of the boundary (the C program in tests/c covers the whole ABI).

use std::ffi::CStr;

use super::*;

#[test]
fn version_is_nul_terminated() {
    // SAFETY: coco_version returns a pointer to a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(coco_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn null_arguments_are_errors_with_messages() {
    // SAFETY: NULL pointers are exactly what these entry points must reject.
    let rc =
        unsafe { coco_reader_open(std::ptr::null(), std::ptr::null(), 0, std::ptr::null_mut()) };
    assert_eq!(rc, coco_status::COCO_ERR_INVALID_ARGUMENT as i32);
    // SAFETY: coco_last_error returns NULL or a valid C string.
    let msg = unsafe { CStr::from_ptr(coco_last_error()) };
    assert!(msg.to_str().unwrap().contains("NULL"));
}
