//! # coco-ffi
//!
//! The C ABI of coco for C and C++ inference engines (TensorRT-LLM, Triton backends,
//! llama.cpp-style loaders). Every symbol is `coco_`-prefixed; statuses are `0` for success and
//! negative per error kind; panics never cross the boundary. The header `coco.h` is generated
//! by cbindgen.
//!
//! This crate is one of the two places in coco where `unsafe` is allowed, and only with a
//! `// SAFETY:` comment on each block.

use std::ffi::c_char;

/// The library version as a NUL-terminated string with static lifetime (never free it).
#[unsafe(no_mangle)]
pub extern "C" fn coco_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_nul_terminated() {
        // SAFETY: coco_version returns a pointer to a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(super::coco_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
