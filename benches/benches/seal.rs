//! Seal/unseal throughput against the bare AES-256-GCM-SIV primitive and age, and `read_at`
//! latency. Run: `cargo bench -p coco-benches --bench seal`.
//!
//! Groups (throughput in plaintext bytes):
//! - `unseal/<chunk>`: `primitive_1t` (bare `decrypt_inout_detached`, ciphertext buffer to
//!   output buffer, chunk by chunk), `coco_1t` (`SealedFile::unseal_into`, 1 thread), the same
//!   two on all threads (`primitive_nt`, `coco_nt`), and `age_stream_1t` (age's STREAM
//!   decryption of the same plaintext, X25519 recipient).
//! - `seal/<chunk>`: `primitive_1t` (bare in-place encrypt) vs `coco_1t` (`Sealer::seal`: from a
//!   reader into a seekable sink, pipelined) and `coco_slice_1t` (`Sealer::seal_slice`: from
//!   memory, no copy of the input) and `coco_into_1t` (`Sealer::seal_into`: from memory
//!   into memory, each chunk encrypted straight to its place, nothing copied), and the same on
//!   all threads (`_nt`); at 1 MiB also `coco_hashed_*` (`seal` with the plaintext's SHA-256
//!   in the same pass, as a model directory is sealed) and `sha256_1t` (SHA-256 alone).
//! - `seal_file/1024KiB`: file to file (both in `/dev/shm` where it exists, so that the disk
//!   does not count; a new output file each time, as sealing a checkpoint writes one):
//!   `primitive_*` (in memory, as above), `write_only_1t` (the plaintext written to a new file:
//!   the floor the I/O sets) and `seal_*` (what `seal_file` does, without its final fsync: the
//!   file read into units, encrypted on the workers, written to the new file).
//! - `read_at`: one 4 KiB `read_at` at a random offset vs decrypting one whole 1 MiB chunk.

use std::hint::black_box;
use std::io::{Cursor, Read, Write};

use aes_gcm_siv::aead::{AeadInOut, KeyInit, inout::InOutBuf};
use aes_gcm_siv::{Aes256GcmSiv, Nonce, Tag};
use coco_seal::{Dek, SealOptions, SealedFile, Sealer, UnsealOptions};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;

/// The input size. Test mode (`cargo test --benches`, a debug build whose generic code from
/// the crypto crates is unoptimised) runs every function once on 4 MiB; the measured runs use
/// 32 MiB.
const LEN: usize = if cfg!(debug_assertions) {
    4 << 20
} else {
    32 << 20
};

fn plaintext() -> Vec<u8> {
    (0..LEN)
        .map(|i| (i as u32).wrapping_mul(2654435761) as u8)
        .collect()
}

fn nonce(i: usize, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&(i as u64).to_be_bytes());
    n[11] = u8::from(last);
    Nonce::from(n)
}

/// The bare primitive: `buf` encrypted in place chunk by chunk, on this thread or on `pool`.
fn encrypt_in_place(
    aead: &Aes256GcmSiv,
    buf: &mut [u8],
    chunk: usize,
    pool: Option<&rayon::ThreadPool>,
) {
    let n = buf.len().div_ceil(chunk);
    let one = |(i, c): (usize, &mut [u8])| {
        black_box(
            aead.encrypt_inout_detached(&nonce(i, i + 1 == n), b"", c.into())
                .unwrap(),
        );
    };
    match pool {
        None => buf.chunks_mut(chunk).enumerate().for_each(one),
        Some(p) => p.install(|| buf.par_chunks_mut(chunk).enumerate().for_each(one)),
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn seal_coco(dek: &Dek, data: &[u8], chunk: usize, threads: usize) -> Vec<u8> {
    let opts = SealOptions {
        chunk_log2: chunk.trailing_zeros() as u8,
        threads,
        ..Default::default()
    };
    let mut out = Cursor::new(Vec::with_capacity(data.len() + (1 << 20)));
    Sealer::new(dek, opts)
        .seal(data, data.len() as u64, &mut out)
        .unwrap();
    out.into_inner()
}

fn bench_unseal(c: &mut Criterion) {
    let data = plaintext();
    let dek = Dek::from_bytes([7; 32]);
    let aead = Aes256GcmSiv::new(&[9u8; 32].into());
    let n_threads = threads();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n_threads)
        .build()
        .unwrap();
    for chunk in [64 << 10, 256 << 10, 1 << 20] {
        let mut g = c.benchmark_group(format!("unseal/{}KiB", chunk >> 10));
        g.throughput(Throughput::Bytes(LEN as u64));
        g.sample_size(20);

        // Bare primitive: the same chunking, ciphertext buffer -> output buffer.
        let n = LEN / chunk;
        let mut ct = data.clone();
        let tags: Vec<Tag> = ct
            .chunks_mut(chunk)
            .enumerate()
            .map(|(i, c)| {
                aead.encrypt_inout_detached(&nonce(i, i + 1 == n), b"", c.into())
                    .unwrap()
            })
            .collect();
        let mut out = vec![0u8; LEN];
        g.bench_function("primitive_1t", |b| {
            b.iter(|| {
                for (i, (c, o)) in ct.chunks(chunk).zip(out.chunks_mut(chunk)).enumerate() {
                    let buf = InOutBuf::new(c, o).unwrap();
                    aead.decrypt_inout_detached(&nonce(i, i + 1 == n), b"", buf, &tags[i])
                        .unwrap();
                }
                black_box(&out);
            })
        });
        g.bench_function(BenchmarkId::new("primitive_nt", n_threads), |b| {
            b.iter(|| {
                pool.install(|| {
                    ct.par_chunks(chunk)
                        .zip(out.par_chunks_mut(chunk))
                        .enumerate()
                        .for_each(|(i, (c, o))| {
                            let buf = InOutBuf::new(c, o).unwrap();
                            aead.decrypt_inout_detached(&nonce(i, i + 1 == n), b"", buf, &tags[i])
                                .unwrap();
                        })
                });
                black_box(&out);
            })
        });

        let sealed = SealedFile::open(seal_coco(&dek, &data, chunk, 0), &dek).unwrap();
        let one = UnsealOptions {
            threads: 1,
            progress: None,
        };
        let all = UnsealOptions {
            threads: n_threads,
            progress: None,
        };
        g.bench_function("coco_1t", |b| {
            b.iter(|| sealed.unseal_into(&mut out, &one).unwrap())
        });
        g.bench_function(BenchmarkId::new("coco_nt", n_threads), |b| {
            b.iter(|| sealed.unseal_into(&mut out, &all).unwrap())
        });

        if chunk == 64 << 10 {
            // age's payload chunk is fixed at 64 KiB: compare it at that size only.
            let id = age::x25519::Identity::generate();
            let recipient = id.to_public();
            let mut aged = Vec::with_capacity(LEN + LEN / 4096);
            let enc =
                age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                    .unwrap();
            let mut w = enc.wrap_output(&mut aged).unwrap();
            w.write_all(&data).unwrap();
            w.finish().unwrap();
            let mut plain = Vec::with_capacity(LEN);
            let d = age::Decryptor::new(&aged[..]).unwrap();
            d.decrypt(std::iter::once(&id as &dyn age::Identity))
                .unwrap()
                .read_to_end(&mut plain)
                .unwrap();
            assert!(plain == data);
            g.bench_function("age_stream_1t", |b| {
                b.iter(|| {
                    plain.clear();
                    let d = age::Decryptor::new(&aged[..]).unwrap();
                    let mut r = d
                        .decrypt(std::iter::once(&id as &dyn age::Identity))
                        .unwrap();
                    r.read_to_end(&mut plain).unwrap();
                    black_box(&plain);
                })
            });
        }
        g.finish();
    }
}

fn bench_seal(c: &mut Criterion) {
    let data = plaintext();
    let dek = Dek::from_bytes([7; 32]);
    let aead = Aes256GcmSiv::new(&[9u8; 32].into());
    let n_threads = threads();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n_threads)
        .build()
        .unwrap();
    for chunk in [64 << 10, 1 << 20] {
        let mut g = c.benchmark_group(format!("seal/{}KiB", chunk >> 10));
        g.throughput(Throughput::Bytes(LEN as u64));
        g.sample_size(10);
        let mut buf = data.clone();
        g.bench_function("primitive_1t", |b| {
            b.iter(|| encrypt_in_place(&aead, &mut buf, chunk, None))
        });
        g.bench_function(BenchmarkId::new("primitive_nt", n_threads), |b| {
            b.iter(|| encrypt_in_place(&aead, &mut buf, chunk, Some(&pool)))
        });
        let mut sink = Cursor::new(Vec::with_capacity(LEN + (1 << 20)));
        for (name, t) in [
            ("coco_1t".to_string(), 1),
            (format!("coco_nt/{n_threads}"), n_threads),
        ] {
            let opts = SealOptions {
                chunk_log2: chunk.trailing_zeros() as u8,
                threads: t,
                ..Default::default()
            };
            let sealer = Sealer::new(&dek, opts);
            g.bench_function(&name, |b| {
                b.iter(|| {
                    sink.set_position(0);
                    sealer.seal(&data[..], LEN as u64, &mut sink).unwrap();
                })
            });
            g.bench_function(name.replace("coco", "coco_slice"), |b| {
                b.iter(|| {
                    sink.set_position(0);
                    sealer.seal_slice(&data, &mut sink).unwrap();
                })
            });
            let mut sealed = vec![0u8; sealer.sealed_len(LEN as u64).unwrap() as usize];
            g.bench_function(name.replace("coco", "coco_into"), |b| {
                b.iter(|| {
                    sealer.seal_into(&data, &mut sealed).unwrap();
                    black_box(&sealed);
                })
            });
            if chunk == 1 << 20 {
                // With the plaintext's SHA-256 in the same pass, as sealing a model directory
                // does (a thread of its own hashes the units in order).
                let hashed = Sealer::new(
                    &dek,
                    SealOptions {
                        hash_plaintext: true,
                        ..sealer.options().clone()
                    },
                );
                g.bench_function(name.replace("coco", "coco_hashed"), |b| {
                    b.iter(|| {
                        sink.set_position(0);
                        hashed.seal(&data[..], LEN as u64, &mut sink).unwrap();
                    })
                });
            }
        }
        if chunk == 1 << 20 {
            // The digest's own primitive, on one thread (SHA-256 is sequential).
            g.bench_function("sha256_1t", |b| {
                b.iter(|| black_box(coco_core::Sha256Digest::of(&data)))
            });
        }
        g.finish();
    }
}

fn bench_seal_file(c: &mut Criterion) {
    let data = plaintext();
    let dek = Dek::from_bytes([7; 32]);
    let aead = Aes256GcmSiv::new(&[9u8; 32].into());
    let n_threads = threads();
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let src = dir.join(format!("coco-bench-{}.plain", std::process::id()));
    let dst = dir.join(format!("coco-bench-{}.sealed", std::process::id()));
    std::fs::write(&src, &data).unwrap();
    let chunk = 1usize << 20;
    let mut g = c.benchmark_group("seal_file/1024KiB");
    g.throughput(Throughput::Bytes(LEN as u64));
    g.sample_size(10);
    let mut buf = data.clone();
    g.bench_function("primitive_1t", |b| {
        b.iter(|| encrypt_in_place(&aead, &mut buf, chunk, None))
    });
    // The I/O alone: the plaintext written to a new file, no encryption.
    g.bench_function("write_only_1t", |b| {
        b.iter(|| {
            let mut out = std::fs::File::create(&dst).unwrap();
            out.write_all(&data).unwrap();
        })
    });
    for t in [1, n_threads] {
        let sealer = Sealer::new(
            &dek,
            SealOptions {
                threads: t,
                ..Default::default()
            },
        );
        let name = if t == 1 {
            "seal_1t".to_string()
        } else {
            format!("seal_nt/{t}")
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let input =
                    std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&src).unwrap());
                let out = std::fs::File::create(&dst).unwrap();
                sealer.seal(input, LEN as u64, &out).unwrap();
            })
        });
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n_threads)
        .build()
        .unwrap();
    g.bench_function(BenchmarkId::new("primitive_nt", n_threads), |b| {
        b.iter(|| encrypt_in_place(&aead, &mut buf, chunk, Some(&pool)))
    });
    g.finish();
    let _ = std::fs::remove_file(&src);
    let _ = std::fs::remove_file(&dst);
}

fn bench_read_at(c: &mut Criterion) {
    let data = plaintext();
    let dek = Dek::from_bytes([7; 32]);
    let chunk = 1 << 20;
    let sealed = SealedFile::open(seal_coco(&dek, &data, chunk, 0), &dek).unwrap();
    let mut g = c.benchmark_group("read_at");
    let mut state = 0x9E3779B97F4A7C15u64;
    let mut small = [0u8; 4096];
    g.bench_function("4KiB_random_offset", |b| {
        b.iter(|| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let off = (state >> 16) % (LEN as u64 - 4096);
            sealed.read_at(off, &mut small).unwrap();
            black_box(&small);
        })
    });
    let mut whole = vec![0u8; chunk];
    g.bench_function("one_1MiB_chunk", |b| {
        b.iter(|| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (state >> 16) % (LEN / chunk) as u64;
            sealed.decrypt_chunk(i, &mut whole).unwrap();
            black_box(&whole);
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_unseal,
    bench_seal,
    bench_seal_file,
    bench_read_at
);
criterion_main!(benches);
