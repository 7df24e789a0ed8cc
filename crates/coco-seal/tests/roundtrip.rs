//! Round trips through every reading path, at the sizes where chunking can go wrong.

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use coco_seal::{SealError, SealOptions, SealedFile, Sealer, UnsealOptions, unseal_file};
use common::*;
use proptest::prelude::*;

const SIZES: &[usize] = &[0, 1, C - 1, C, C + 1, 5 * C + 3];

#[test]
fn every_size_round_trips_every_way() {
    let dek = key(1);
    for &len in SIZES {
        let data = plaintext(len, 3);
        let (sealed, summary) = seal_with(
            &dek,
            &data,
            SealOptions {
                hash_plaintext: true,
                ..opts()
            },
        );
        assert_eq!(sealed.len() as u64, summary.sealed_len);
        assert_eq!(
            summary.plaintext_sha256.unwrap(),
            coco_core::Sha256Digest::of(&data)
        );
        let f = SealedFile::open(sealed, &dek).unwrap();
        assert_eq!(f.plaintext_len(), len as u64);
        assert_eq!(f.layout().data_offset % 4096, 0);
        // 1:1 offsets: the file is exactly data_offset + plaintext_len.
        assert_eq!(f.layout().file_len, f.layout().data_offset + len as u64);
        for threads in [1, 2, 0] {
            let mut out = vec![0xAAu8; len];
            f.unseal_into(
                &mut out,
                &UnsealOptions {
                    threads,
                    progress: None,
                },
            )
            .unwrap();
            assert_eq!(out, data, "unseal_into len={len} threads={threads}");
        }
        let mut via_read = Vec::new();
        f.reader().read_to_end(&mut via_read).unwrap();
        assert_eq!(via_read, data, "Read len={len}");
        let mut buf = vec![0u8; 10];
        assert_eq!(f.read_at(len as u64, &mut buf).unwrap(), 0);
        assert_eq!(f.read_at(u64::MAX, &mut buf).unwrap(), 0);
    }
}

#[test]
fn streaming_writer_in_any_thread_count_gives_identical_output() {
    let dek = key(2);
    let data = plaintext(7 * C + 11, 9);
    let fixed = |threads| SealOptions {
        threads,
        salt: Some([5; 32]),
        ..opts()
    };
    let (one, _) = seal_with(&dek, &data, fixed(1));
    let (two, _) = seal_with(&dek, &data, fixed(2));
    let (many, _) = seal_with(&dek, &data, fixed(7));
    assert_eq!(one, two);
    assert_eq!(one, many);
}

/// More plaintext than one unit (1 MiB at 64 KiB chunks): the writer pipelines reading,
/// encrypting (units finish in any order on several workers) and writing in order, and must
/// give the same bytes, digest and progress whatever the thread count, and stop cleanly when
/// the input or the output fails in a later unit. Sealing into memory (`seal_into`) gives the
/// same bytes.
#[test]
fn pipelined_writer_over_many_batches() {
    let dek = key(6);
    let data = plaintext(150 * C + 7, 4);
    let mut first = None;
    for threads in [1, 2, 3] {
        let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen2 = seen.clone();
        let progress: coco_seal::Progress = Arc::new(move |n| {
            // Progress only grows.
            let before = seen2.swap(n, std::sync::atomic::Ordering::Relaxed);
            assert!(n > before, "progress went from {before} to {n}");
        });
        // The same options for every way of sealing below (progress aside).
        let fixed = SealOptions {
            threads,
            salt: Some([8; 32]),
            hash_plaintext: true,
            ..opts()
        };
        let (sealed, summary) = seal_with(
            &dek,
            &data,
            SealOptions {
                progress: Some(progress),
                ..fixed.clone()
            },
        );
        assert_eq!(
            summary.plaintext_sha256.unwrap(),
            coco_core::Sha256Digest::of(&data)
        );
        assert_eq!(
            seen.load(std::sync::atomic::Ordering::Relaxed),
            data.len() as u64
        );
        let f = SealedFile::open(sealed.clone(), &dek).unwrap();
        let mut out = vec![0u8; data.len()];
        f.unseal_into(&mut out, &UnsealOptions::default()).unwrap();
        assert!(out == data, "threads={threads}");
        // From memory (no copy into the batch): the same bytes and digest.
        let mut from_slice = std::io::Cursor::new(Vec::new());
        let s = Sealer::new(&dek, fixed.clone())
            .seal_slice(&data, &mut from_slice)
            .unwrap();
        assert!(
            from_slice.into_inner() == sealed,
            "seal_slice threads={threads}"
        );
        assert_eq!(s.plaintext_sha256, summary.plaintext_sha256);
        // Into memory the caller owns: the same bytes, digest and progress.
        let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen2 = seen.clone();
        let into = Sealer::new(
            &dek,
            SealOptions {
                progress: Some(Arc::new(move |n| {
                    seen2.fetch_max(n, std::sync::atomic::Ordering::Relaxed);
                })),
                ..fixed
            },
        );
        let mut buf = vec![0xA5u8; into.sealed_len(data.len() as u64).unwrap() as usize];
        let s = into.seal_into(&data, &mut buf).unwrap();
        assert!(buf == sealed, "seal_into threads={threads}");
        assert_eq!(s.plaintext_sha256, summary.plaintext_sha256);
        assert_eq!(s.sealed_len, summary.sealed_len);
        assert_eq!(s.header_sha256, summary.header_sha256);
        assert_eq!(
            seen.load(std::sync::atomic::Ordering::Relaxed),
            data.len() as u64
        );
        match &first {
            None => first = Some(sealed),
            Some(one) => assert!(*one == sealed, "threads={threads} sealed differently"),
        }
    }
    for len in [0, 1, C + 1] {
        let small = plaintext(len, 5);
        let fixed = SealOptions {
            salt: Some([8; 32]),
            ..opts()
        };
        let mut a = std::io::Cursor::new(Vec::new());
        Sealer::new(&dek, fixed.clone())
            .seal_slice(&small, &mut a)
            .unwrap();
        let streamed = seal_with(&dek, &small, fixed.clone()).0;
        assert_eq!(a.into_inner(), streamed, "len={len}");
        let into = Sealer::new(&dek, fixed);
        let mut buf = vec![0xA5u8; into.sealed_len(len as u64).unwrap() as usize];
        into.seal_into(&small, &mut buf).unwrap();
        assert_eq!(buf, streamed, "seal_into len={len}");
        // An output of any other length is refused and left as it was.
        for wrong in [buf.len() - 1, buf.len() + 1, 0] {
            let mut other = vec![0xA5u8; wrong];
            assert!(matches!(
                into.seal_into(&small, &mut other),
                Err(SealError::InvalidArgument(_))
            ));
            assert!(other.iter().all(|&b| b == 0xA5), "len={len} out={wrong}");
        }
    }

    // Two sealers, without and with the digest (on its own thread), that fail below and are
    // then used again.
    let [plain, hashed] = [false, true].map(|hash_plaintext| {
        Sealer::new(
            &dek,
            SealOptions {
                hash_plaintext,
                threads: 2,
                ..opts()
            },
        )
    });

    // The input ends in the third unit, or goes on past the declared length.
    for s in [&plain, &hashed] {
        for declared in [data.len() as u64 + 100 * C as u64, data.len() as u64 - 1] {
            let mut out = std::io::Cursor::new(Vec::new());
            assert!(matches!(
                s.seal(&data[..], declared, &mut out),
                Err(SealError::InvalidArgument(_))
            ));
        }
    }

    // The sink fails after 5 MiB (in the sixth unit): the error comes back.
    struct FailingSink(std::io::Cursor<Vec<u8>>);
    impl std::io::Write for FailingSink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0.position() + buf.len() as u64 > 5 << 20 {
                return Err(std::io::ErrorKind::StorageFull.into());
            }
            self.0.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl std::io::Seek for FailingSink {
        fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
            self.0.seek(pos)
        }
    }
    for s in [&plain, &hashed] {
        let mut sink = FailingSink(std::io::Cursor::new(Vec::new()));
        match s.seal(&data[..], data.len() as u64, &mut sink) {
            Err(SealError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::StorageFull),
            other => panic!("expected the sink's error, got {:?}", other.map(|_| ())),
        }
    }

    // The same sealers again, after those failures (each keeps its buffers between calls):
    // small, large, from memory.
    for (s, len) in [&plain, &hashed]
        .into_iter()
        .flat_map(|s| [C + 3, data.len(), 20 * C].map(|len| (s, len)))
    {
        let mut out = std::io::Cursor::new(Vec::new());
        s.seal(&data[..len], len as u64, &mut out).unwrap();
        let f = SealedFile::open(out.into_inner(), &dek).unwrap();
        let mut back = vec![0u8; len];
        f.unseal_into(&mut back, &UnsealOptions::default()).unwrap();
        assert!(back == data[..len], "len={len}");
        let mut out = std::io::Cursor::new(Vec::new());
        s.seal_slice(&data[..len], &mut out).unwrap();
        let f = SealedFile::open(out.into_inner(), &dek).unwrap();
        f.unseal_into(&mut back, &UnsealOptions::default()).unwrap();
        assert!(back == data[..len], "seal_slice len={len}");
    }
}

#[test]
fn files_on_disk_and_progress() {
    let dir = tempfile::tempdir().unwrap();
    let dek = key(3);
    let data = plaintext(3 * C + 5, 1);
    let (p, s, u) = (
        dir.path().join("p"),
        dir.path().join("s.coco"),
        dir.path().join("u"),
    );
    std::fs::write(&p, &data).unwrap();
    Sealer::new(&dek, opts()).seal_file(&p, &s).unwrap();
    let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen2 = seen.clone();
    let progress: coco_seal::Progress = Arc::new(move |n| {
        seen2.fetch_max(n, std::sync::atomic::Ordering::Relaxed);
    });
    unseal_file(
        &dek,
        &s,
        &u,
        &UnsealOptions {
            threads: 2,
            progress: Some(progress),
        },
    )
    .unwrap();
    assert_eq!(std::fs::read(&u).unwrap(), data);
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::Relaxed),
        data.len() as u64
    );
    // No temporary files left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn declared_length_must_match_the_input() {
    let dek = key(4);
    let data = plaintext(100, 0);
    let mut out = std::io::Cursor::new(Vec::new());
    let s = Sealer::new(&dek, opts());
    assert!(matches!(
        s.seal(&data[..], 101, &mut out),
        Err(SealError::InvalidArgument(_))
    ));
    let mut out = std::io::Cursor::new(Vec::new());
    assert!(matches!(
        s.seal(&data[..], 99, &mut out),
        Err(SealError::InvalidArgument(_))
    ));
    assert!(SealOptions::default().with_chunk_size(3 << 16).is_err());
    let bad = SealOptions {
        chunk_log2: 25,
        ..opts()
    };
    let mut out = std::io::Cursor::new(Vec::new());
    assert!(matches!(
        Sealer::new(&dek, bad).seal(&data[..], 100, &mut out),
        Err(SealError::InvalidArgument(_))
    ));
}

#[test]
fn seek_from_end_and_current() {
    let dek = key(5);
    let data = plaintext(2 * C + 100, 4);
    let f = SealedFile::open(seal(&dek, &data), &dek).unwrap();
    let mut r = f.reader();
    r.seek(SeekFrom::End(-50)).unwrap();
    let mut tail = Vec::new();
    r.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, &data[data.len() - 50..]);
    r.seek(SeekFrom::Start(10)).unwrap();
    r.seek(SeekFrom::Current(C as i64)).unwrap();
    let mut b = [0u8; 4];
    r.read_exact(&mut b).unwrap();
    assert_eq!(b, data[C + 10..C + 14]);
    assert!(r.seek(SeekFrom::Current(-1_000_000)).is_err());
}

#[test]
fn concurrent_read_at_from_many_threads() {
    let dek = key(6);
    let data = plaintext(9 * C + 77, 8);
    let f = SealedFile::open(seal(&dek, &data), &dek).unwrap();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let (f, data) = (&f, &data);
            s.spawn(move || {
                let mut state = t * 7919 + 1;
                for _ in 0..200 {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let off = (state >> 33) as usize % data.len();
                    let len = ((state >> 13) as usize % 5000).min(data.len() - off);
                    let mut buf = vec![0u8; len];
                    assert_eq!(f.read_at(off as u64, &mut buf).unwrap(), len);
                    assert_eq!(buf, data[off..off + len]);
                }
            });
        }
    });
}

#[test]
fn read_at_parallel_matches_for_any_range() {
    let dek = key(8);
    let data = plaintext(6 * C + 123, 2);
    let f = SealedFile::open(seal(&dek, &data), &dek).unwrap();
    for (off, len) in [
        (0, data.len()),
        (5, 3 * C),
        (C as u64, C),
        (C as u64 - 1, 2),
        (100, 10),
        (6 * C as u64, 500),
        (0, 0),
    ] {
        for threads in [1, 2, 0] {
            let mut buf = vec![0xEEu8; len];
            let got = f
                .read_at_parallel(
                    off,
                    &mut buf,
                    &UnsealOptions {
                        threads,
                        progress: None,
                    },
                )
                .unwrap();
            let start = (off as usize).min(data.len());
            let end = (start + len).min(data.len());
            assert_eq!(got, end - start);
            assert_eq!(
                &buf[..got],
                &data[start..end],
                "off={off} len={len} threads={threads}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn read_at_equals_the_plaintext(len in 0usize..(4 * C + 300), ranges in proptest::collection::vec((0u64..(5 * C as u64), 0usize..(2 * C + 10)), 1..12)) {
        let dek = key(7);
        let data = plaintext(len, (len % 251) as u8);
        let f = SealedFile::open(seal(&dek, &data), &dek).unwrap();
        for (off, n) in ranges {
            let mut buf = vec![0u8; n];
            let got = f.read_at(off, &mut buf).unwrap();
            let start = (off as usize).min(len);
            let end = (start + n).min(len);
            prop_assert_eq!(got, end - start);
            prop_assert_eq!(&buf[..got], &data[start..end]);
        }
    }
}
