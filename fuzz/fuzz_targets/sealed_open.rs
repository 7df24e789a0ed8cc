//! `SealedFile::open` and reads on arbitrary files under a fixed key: never a panic, and
//! nothing but errors for anything not sealed under that key.
#![no_main]
use coco_seal::{Dek, SealedFile, UnsealOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dek = Dek::from_bytes([0x42; 32]);
    if let Ok(f) = SealedFile::open(data.to_vec(), &dek) {
        let len = f.plaintext_len();
        let mut buf = [0u8; 300];
        for off in [0, len / 2, len.saturating_sub(10), len, u64::MAX] {
            let _ = f.read_at(off, &mut buf);
        }
        if len < (1 << 24) {
            let mut all = vec![0u8; len as usize];
            let _ = f.unseal_into(&mut all, &UnsealOptions { threads: 1, progress: None });
        }
    }
});
