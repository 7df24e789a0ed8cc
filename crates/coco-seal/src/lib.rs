//! # coco-seal
//!
//! Sealed model weights: a small, fully specified file format (`docs/FORMAT.md`) that
//! encrypts a weight file in independent chunks so that a loader inside a confidential VM can
//! decrypt it streaming, in parallel, or at random offsets, and never sees plaintext that did
//! not authenticate.
//!
//! - Suite 1: AES-256-GCM-SIV (RFC 8452) per chunk under a per-file key derived with
//!   HKDF-SHA-256 from the data key (DEK), a random salt and the digest of the header; a
//!   256-bit key commitment checked in constant time before any decryption.
//! - Detached tags in a table after the header and 4096-aligned chunk data: plaintext byte `p`
//!   is ciphertext byte `data_offset + p`.
//! - STREAM nonces (`00 00 00 || u64_be(i) || last`) stop reordering, truncation and extension.
//!
//! ```
//! use coco_seal::{Dek, SealOptions, SealedFile, Sealer, UnsealOptions};
//! let dek = Dek::generate().unwrap();
//! let weights: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
//! let mut sealed = std::io::Cursor::new(Vec::new());
//! let opts = SealOptions::default().with_chunk_size(64 * 1024).unwrap();
//! Sealer::new(&dek, opts).seal(&weights[..], weights.len() as u64, &mut sealed).unwrap();
//!
//! let file = SealedFile::open(sealed.into_inner(), &dek).unwrap();
//! let mut all = vec![0u8; file.plaintext_len() as usize];
//! file.unseal_into(&mut all, &UnsealOptions::default()).unwrap();
//! assert_eq!(all, weights);
//! ```
//!
//! Layers: [`header`] (bytes, bounds), [`key`] (DEK and derivations), [`Sealer`] (writer),
//! [`SealedFile`] (authenticated random-access reader, `Read + Seek` via [`SealedReader`]),
//! parallel unseal ([`SealedFile::unseal_into`], [`unseal_file`]), and model directories
//! ([`seal_dir`], [`unseal_dir`]) with an in-toto [`manifest`] optionally signed in DSSE.

mod chunk;
pub mod error;
pub mod header;
pub mod key;
pub mod manifest;
pub mod model;
pub mod output;
pub mod parallel;
pub mod reader;
pub mod unseal;
pub mod writer;

pub use error::{ManifestError, Result, SealError};
pub use header::{Header, Layout, Metadata, Suite};
pub use key::Dek;
pub use model::{DirSealOptions, DirUnsealOptions, seal_dir, unseal_dir};
pub use parallel::Progress;
pub use reader::{Inspection, ReadAt, SealedFile, SealedReader, inspect};
pub use unseal::{UnsealOptions, unseal_file};
pub use writer::{SealOptions, SealSummary, Sealer};
