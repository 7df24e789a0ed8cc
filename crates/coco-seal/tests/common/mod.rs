//! Helpers shared by the coco-seal integration tests.
#![allow(dead_code)]

use std::io::Cursor;

use coco_seal::{Dek, Metadata, SealOptions, SealSummary, Sealer};

/// 64 KiB, the smallest chunk: keeps multi-chunk tests small.
pub const C: usize = 1 << 16;

/// Deterministic, non-repeating-looking plaintext.
pub fn plaintext(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2654435761)
                .rotate_left(seed as u32 % 31) as u8
                ^ seed
        })
        .collect()
}

pub fn opts() -> SealOptions {
    SealOptions {
        chunk_log2: 16,
        key_id: "kbs:///test/model/dek-1".into(),
        metadata: Metadata {
            model_id: Some("test/model@1".into()),
            shard_name: Some("model.safetensors".into()),
            shard_index: Some(0),
            content_type: Some("safetensors".into()),
        },
        threads: 2,
        ..SealOptions::default()
    }
}

pub fn seal_with(dek: &Dek, data: &[u8], opts: SealOptions) -> (Vec<u8>, SealSummary) {
    let mut out = Cursor::new(Vec::new());
    let summary = Sealer::new(dek, opts)
        .seal(data, data.len() as u64, &mut out)
        .expect("seal");
    (out.into_inner(), summary)
}

pub fn seal(dek: &Dek, data: &[u8]) -> Vec<u8> {
    seal_with(dek, data, opts()).0
}

pub fn key(byte: u8) -> Dek {
    Dek::from_bytes([byte; 32])
}
