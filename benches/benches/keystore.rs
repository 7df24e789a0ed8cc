//! Fetching a data key from each key store, as a release does. Run:
//! `cargo bench -p coco-benches --bench keystore`.
//!
//! - `keystore/memory`, `keystore/file`: the in-memory store and the 0600-file store.
//! - `keystore/pkcs11`: the HSM store (the blob read, opened by the token's KEK with
//!   CKM_AES_GCM), when `COCO_BENCH_PKCS11_URI` and `COCO_BENCH_PKCS11_PIN_FILE` name a
//!   provisioned token (e.g. SoftHSM2 with `SOFTHSM2_CONF` set, as in the README); skipped
//!   otherwise.

use std::hint::black_box;

use coco_release::keystore::pkcs11::{PinSource, Pkcs11KeyStore};
use coco_release::keystore::{FileKeyStore, KeyStore, MemoryKeyStore};
use coco_seal::Dek;
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let dek = Dek::generate().unwrap();
    let dir = std::env::temp_dir().join(format!("coco-bench-keystore-{}", std::process::id()));
    let mut g = c.benchmark_group("keystore");
    let memory = MemoryKeyStore::default();
    memory.import("model-1", &dek).unwrap();
    g.bench_function("memory", |b| {
        b.iter(|| black_box(memory.get(black_box("model-1")).unwrap()))
    });
    let file = FileKeyStore::open(&dir.join("file")).unwrap();
    file.import("model-1", &dek).unwrap();
    g.bench_function("file", |b| {
        b.iter(|| black_box(file.get(black_box("model-1")).unwrap()))
    });
    if let (Ok(uri), Ok(pin)) = (
        std::env::var("COCO_BENCH_PKCS11_URI"),
        std::env::var("COCO_BENCH_PKCS11_PIN_FILE"),
    ) {
        let store = Pkcs11KeyStore::open(
            &uri.parse().unwrap(),
            Some(&PinSource::File(pin.into())),
            &dir.join("pkcs11"),
        )
        .unwrap();
        store.import("model-1", &dek).unwrap();
        g.bench_function("pkcs11", |b| {
            b.iter(|| black_box(store.get(black_box("model-1")).unwrap()))
        });
    } else {
        eprintln!("keystore/pkcs11: skipped (COCO_BENCH_PKCS11_URI, COCO_BENCH_PKCS11_PIN_FILE)");
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
