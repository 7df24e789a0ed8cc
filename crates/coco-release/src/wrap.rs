//! HPKE (RFC 9180) base-mode wrapping of a data key to the workload's ephemeral key:
//! DHKEM(P-384, HKDF-SHA384) + HKDF-SHA384 + AES-256-GCM, or DHKEM(X25519, HKDF-SHA256) +
//! HKDF-SHA256 + AES-256-GCM.
//!
//! The Diffie-Hellman and the AEAD run in AWS-LC (the verifiers' library: P-384 ECDH there
//! costs a sixth of the portable arithmetic), the RFC's labeled HKDF in RustCrypto's `hkdf`.
//! Checked against RFC 9180's test vectors and, both ways, against the `hpke` crate.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey};
use hkdf::{Hkdf, HkdfExtract};
use serde::{Deserialize, Serialize};
use sha2::{Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use crate::error::{ReleaseError, Result};

/// The KEM of the workload key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kem {
    /// DHKEM(P-384, HKDF-SHA384), with HKDF-SHA384 and AES-256-GCM.
    P384,
    /// DHKEM(X25519, HKDF-SHA256), with HKDF-SHA256 and AES-256-GCM.
    X25519,
}

impl std::str::FromStr for Kem {
    type Err = ReleaseError;

    /// `p384` or `x25519`, as on the wire.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "p384" => Ok(Kem::P384),
            "x25519" => Ok(Kem::X25519),
            k => Err(ReleaseError::Request(format!("KEM {k:?}: p384 or x25519"))),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Hash {
    Sha256,
    Sha384,
    #[cfg_attr(not(test), allow(dead_code))]
    Sha512,
}

/// An HPKE suite: the DHKEM (curve, its hash), the KDF's hash, AES-256-GCM.
#[derive(Debug, Clone, Copy)]
struct Suite {
    kem_id: u16,
    kdf_id: u16,
    curve: &'static agreement::Algorithm,
    /// The DHKEM's hash (and `Nsecret`, its output length).
    kem_hash: Hash,
    kdf_hash: Hash,
    /// The length of an encoded public key (`Npk`).
    npk: usize,
}

const AEAD_AES_256_GCM: u16 = 0x0002;

const P384_SUITE: Suite = Suite {
    kem_id: 0x0011,
    kdf_id: 0x0002,
    curve: &agreement::ECDH_P384,
    kem_hash: Hash::Sha384,
    kdf_hash: Hash::Sha384,
    npk: 97,
};

const X25519_SUITE: Suite = Suite {
    kem_id: 0x0020,
    kdf_id: 0x0001,
    curve: &agreement::X25519,
    kem_hash: Hash::Sha256,
    kdf_hash: Hash::Sha256,
    npk: 32,
};

impl Kem {
    fn suite(self) -> Suite {
        match self {
            Kem::P384 => P384_SUITE,
            Kem::X25519 => X25519_SUITE,
        }
    }
}

impl Hash {
    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    /// `LabeledExtract(salt, label, ikm)` = HKDF-Extract(salt, "HPKE-v1" || suite_id ||
    /// label || ikm).
    fn labeled_extract(
        self,
        suite_id: &[u8],
        salt: &[u8],
        label: &[u8],
        ikm: &[u8],
    ) -> Zeroizing<Vec<u8>> {
        macro_rules! extract {
            ($h:ty) => {{
                let mut e = HkdfExtract::<$h>::new(Some(salt));
                for part in [b"HPKE-v1".as_slice(), suite_id, label, ikm] {
                    e.input_ikm(part);
                }
                Zeroizing::new(e.finalize().0.to_vec())
            }};
        }
        match self {
            Hash::Sha256 => extract!(Sha256),
            Hash::Sha384 => extract!(Sha384),
            Hash::Sha512 => extract!(Sha512),
        }
    }

    /// `LabeledExpand(prk, label, info, L)` = HKDF-Expand(prk, I2OSP(L, 2) || "HPKE-v1" ||
    /// suite_id || label || info, L).
    fn labeled_expand(
        self,
        suite_id: &[u8],
        prk: &[u8],
        label: &[u8],
        info: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        let len = u16::try_from(out.len())
            .map_err(|_| hpke_err("expand length"))?
            .to_be_bytes();
        let parts = [len.as_slice(), b"HPKE-v1", suite_id, label, info];
        macro_rules! expand {
            ($h:ty) => {
                Hkdf::<$h>::from_prk(prk)
                    .map_err(|_| hpke_err("pseudorandom key length"))?
                    .expand_multi_info(&parts, out)
                    .map_err(|_| hpke_err("expand length"))
            };
        }
        match self {
            Hash::Sha256 => expand!(Sha256),
            Hash::Sha384 => expand!(Sha384),
            Hash::Sha512 => expand!(Sha512),
        }
    }
}

impl Suite {
    fn kem_suite_id(&self) -> [u8; 5] {
        let k = self.kem_id.to_be_bytes();
        [b'K', b'E', b'M', k[0], k[1]]
    }

    fn hpke_suite_id(&self) -> [u8; 10] {
        let (k, f, a) = (
            self.kem_id.to_be_bytes(),
            self.kdf_id.to_be_bytes(),
            AEAD_AES_256_GCM.to_be_bytes(),
        );
        [b'H', b'P', b'K', b'E', k[0], k[1], f[0], f[1], a[0], a[1]]
    }

    /// `SerializePublicKey` form only: the uncompressed point of a NIST curve, 32 bytes for
    /// X25519.
    fn parse_public(&self, pk: &[u8]) -> Result<agreement::ParsedPublicKey> {
        let invalid = || hpke_err("the workload public key is not valid for its KEM");
        if pk.len() != self.npk || (self.npk != 32 && pk[0] != 0x04) {
            return Err(invalid());
        }
        agreement::ParsedPublicKey::try_from(UnparsedPublicKey::new(self.curve, pk))
            .map_err(|_| invalid())
    }

    /// `DH(sk, pk)` then the DHKEM's `ExtractAndExpand` with `kem_context = enc || pkR`.
    fn shared_secret(
        &self,
        sk: &PrivateKey,
        peer: &[u8],
        enc: &[u8],
        pk_r: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        // Parsed (and validated) once, then used as parsed.
        let dh = agreement::agree(
            sk,
            self.parse_public(peer)?,
            hpke_err("key agreement"),
            |s| Ok(Zeroizing::new(s.to_vec())),
        )?;
        // RFC 9180 7.1.4: an all-zero X25519 output is an error.
        if dh.iter().all(|&b| b == 0) {
            return Err(hpke_err("key agreement gave the all-zero secret"));
        }
        let id = self.kem_suite_id();
        let eae_prk = self.kem_hash.labeled_extract(&id, b"", b"eae_prk", &dh);
        let mut shared = Zeroizing::new(vec![0u8; self.kem_hash.len()]);
        let kem_context = [enc, pk_r].concat();
        self.kem_hash
            .labeled_expand(&id, &eae_prk, b"shared_secret", &kem_context, &mut shared)?;
        Ok(shared)
    }

    /// The base-mode key schedule: (key, base_nonce).
    fn key_schedule(&self, shared: &[u8], info: &[u8]) -> Result<(Zeroizing<[u8; 32]>, [u8; 12])> {
        let id = self.hpke_suite_id();
        let h = self.kdf_hash;
        let psk_id_hash = h.labeled_extract(&id, b"", b"psk_id_hash", b"");
        let info_hash = h.labeled_extract(&id, b"", b"info_hash", info);
        let context = [&[0u8][..], &psk_id_hash, &info_hash].concat();
        let secret = h.labeled_extract(&id, shared, b"secret", b"");
        let mut key = Zeroizing::new([0u8; 32]);
        let mut nonce = [0u8; 12];
        h.labeled_expand(&id, &secret, b"key", &context, key.as_mut())?;
        h.labeled_expand(&id, &secret, b"base_nonce", &context, &mut nonce)?;
        Ok((key, nonce))
    }

    /// Single-shot seal to `pk_r` with the ephemeral key `sk_e`: (enc, ciphertext).
    fn seal(
        &self,
        sk_e: &PrivateKey,
        pk_r: &[u8],
        info: &[u8],
        aad: &[u8],
        pt: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let enc = sk_e
            .compute_public_key()
            .map_err(|_| hpke_err("ephemeral key"))?
            .as_ref()
            .to_vec();
        let shared = self.shared_secret(sk_e, pk_r, &enc, pk_r)?;
        let (key, nonce) = self.key_schedule(&shared, info)?;
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, key.as_ref()).map_err(|_| hpke_err("AEAD key"))?,
        );
        let mut ct = pt.to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut ct)
            .map_err(|_| hpke_err("seal"))?;
        Ok((enc, ct))
    }

    /// Single-shot open with the recipient's key.
    fn open(
        &self,
        sk_r: &PrivateKey,
        pk_r: &[u8],
        enc: &[u8],
        ct: &[u8],
        info: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let shared = self.shared_secret(sk_r, enc, enc, pk_r)?;
        let (key, nonce) = self.key_schedule(&shared, info)?;
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, key.as_ref()).map_err(|_| hpke_err("AEAD key"))?,
        );
        let mut buf = Zeroizing::new(ct.to_vec());
        let n = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| hpke_err("the wrapped key does not open with this key, info and aad"))?
            .len();
        buf.truncate(n);
        Ok(buf)
    }
}

/// The workload's ephemeral key pair (AWS-LC frees the private key zeroized).
pub struct WorkloadKey {
    kem: Kem,
    private: PrivateKey,
    public: Vec<u8>,
}

impl std::fmt::Debug for WorkloadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WorkloadKey({:?}, pk {})",
            self.kem,
            hex::encode(&self.public)
        )
    }
}

/// A wrapped data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    /// The KEM.
    pub kem: Kem,
    /// The encapsulated key.
    pub enc: Vec<u8>,
    /// The AEAD ciphertext of the data key (32 bytes + 16-byte tag).
    pub ciphertext: Vec<u8>,
}

fn hpke_err(what: &str) -> ReleaseError {
    ReleaseError::Wrap(what.into())
}

impl WorkloadKey {
    /// A fresh key pair from the OS random generator.
    pub fn generate(kem: Kem) -> Self {
        Self::try_generate(kem).expect("AWS-LC generates an ECDH key")
    }

    fn try_generate(kem: Kem) -> Result<Self> {
        let private =
            PrivateKey::generate(kem.suite().curve).map_err(|_| hpke_err("key generation"))?;
        Self::from_private(kem, private)
    }

    fn from_private(kem: Kem, private: PrivateKey) -> Result<Self> {
        let public = private
            .compute_public_key()
            .map_err(|_| hpke_err("public key"))?
            .as_ref()
            .to_vec();
        Ok(Self {
            kem,
            private,
            public,
        })
    }

    /// The KEM.
    pub fn kem(&self) -> Kem {
        self.kem
    }

    /// The encoded public key (P-384: uncompressed SEC1 point; X25519: 32 bytes).
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// Opens a wrapped data key into zeroizing memory.
    pub fn unwrap(&self, w: &Wrapped, info: &[u8], aad: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        if w.kem != self.kem {
            return Err(hpke_err("the wrapped key is for another KEM"));
        }
        let pt = self.kem.suite().open(
            &self.private,
            &self.public,
            &w.enc,
            &w.ciphertext,
            info,
            aad,
        )?;
        let mut out = Zeroizing::new([0u8; 32]);
        if pt.len() != 32 {
            return Err(hpke_err("the unwrapped key is not 32 bytes"));
        }
        out.copy_from_slice(&pt);
        Ok(out)
    }
}

/// Wraps `dek` to the workload public key `pk`.
pub fn wrap(kem: Kem, pk: &[u8], dek: &[u8; 32], info: &[u8], aad: &[u8]) -> Result<Wrapped> {
    let suite = kem.suite();
    let sk_e = PrivateKey::generate(suite.curve).map_err(|_| hpke_err("ephemeral key"))?;
    let (enc, ciphertext) = suite.seal(&sk_e, pk, info, aad, dek)?;
    Ok(Wrapped {
        kem,
        enc,
        ciphertext,
    })
}

/// Checks that `pk` is a valid public key of `kem` (P-384: an uncompressed point on the curve;
/// X25519: 32 bytes).
pub fn check_public_key(kem: Kem, pk: &[u8]) -> Result<()> {
    kem.suite().parse_public(pk).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap_both_kems_and_binding_of_info_and_aad() {
        for kem in [Kem::P384, Kem::X25519] {
            let k = WorkloadKey::generate(kem);
            let dek = [7u8; 32];
            let w = wrap(kem, k.public_key(), &dek, b"info", b"aad").unwrap();
            assert_eq!(*k.unwrap(&w, b"info", b"aad").unwrap(), dek);
            assert!(k.unwrap(&w, b"infx", b"aad").is_err());
            assert!(k.unwrap(&w, b"info", b"aax").is_err());
            let other = WorkloadKey::generate(kem);
            assert!(other.unwrap(&w, b"info", b"aad").is_err());
            let mut bad = w.clone();
            bad.ciphertext[0] ^= 1;
            assert!(k.unwrap(&bad, b"info", b"aad").is_err());
        }
    }

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 9180's test vectors (base mode, first encryption) for the DHKEM(X25519) suite coco
    /// uses, and for the NIST-curve code path on the curves the RFC has AES-256-GCM vectors
    /// for (P-256 with HKDF-SHA256, P-521 with HKDF-SHA512).
    #[test]
    fn rfc9180_test_vectors() {
        struct V {
            suite: Suite,
            sk_e: &'static str,
            sk_r: &'static str,
            pk_r: &'static str,
            enc: &'static str,
            shared: &'static str,
            key: &'static str,
            nonce: &'static str,
            ct: &'static str,
        }
        let info = h("4f6465206f6e2061204772656369616e2055726e");
        let aad = h("436f756e742d30");
        let pt = h("4265617574792069732074727574682c20747275746820626561757479");
        let vectors = [
            V {
                suite: X25519_SUITE,
                sk_e: "179d4b53b6365c45b600c4163b61d95cbc2f4d9e36f1695558dce265ab8bab11",
                sk_r: "497b4502664cfea5d5af0b39934dac72242a74f8480451e1aee7d6a53320333d",
                pk_r: "430f4b9859665145a6b1ba274024487bd66f03a2dd577d7753c68d7d7d00c00c",
                enc: "6c93e09869df3402d7bf231bf540fadd35cd56be14f97178f0954db94b7fc256",
                shared: "3101c54c3a4f87439eaac080699ed9bbcc726ffe44e860c0424ccb7e3e2ead7b",
                key: "f50b0609186798729ed0564b36ef2ef8044f1f9d05636874d1f46c819c7a669f",
                nonce: "151d9929e2449747889bc923",
                ct: "e5d84cd531cfb583096e7cfa9641bd3079cf3a91cda813c52deb5f512be9931980a41de125a925cdad859d5b7a",
            },
            V {
                suite: Suite {
                    kem_id: 0x0010,
                    kdf_id: 0x0001,
                    curve: &agreement::ECDH_P256,
                    kem_hash: Hash::Sha256,
                    kdf_hash: Hash::Sha256,
                    npk: 65,
                },
                sk_e: "90345e3a1d116c1dd39ae76d95ab858c142223a63e44f8f85318cfa91a84858e",
                sk_r: "317f915db7bc629c48fe765587897e01e282d3e8445f79f27f65d031a88082b2",
                pk_r: "04abc7e49a4c6b3566d77d0304addc6ed0e98512ffccf505e6a8e3eb25c685136f853148544876de76c0f2ef99cdc3a05ccf5ded7860c7c021238f9e2073d2356c",
                enc: "04c06b4f6bebc7bb495cb797ab753f911aff80aefb86fd8b6fcc35525f3ab5f03e0b21bd31a86c6048af3cb2d98e0d3bf01da5cc4c39ff5370d331a4f1f7d5a4e0",
                shared: "48893fecd82f7c3456af6a42d8f56325d21e08c10fa81299986aaff54cde7b49",
                key: "ee16802a936d5f544771131900ee6973d0551de9e852ece2ef34bf0d5f9e1d1d",
                nonce: "9bc50980832a7b4b58c40161",
                ct: "58c61a45059d0c5704560e9d88b564a8b63f1364b8d1fcb3c4c6ddc1d291742465e902cd216f8908da49f8f96f",
            },
            V {
                suite: Suite {
                    kem_id: 0x0012,
                    kdf_id: 0x0003,
                    curve: &agreement::ECDH_P521,
                    kem_hash: Hash::Sha512,
                    kdf_hash: Hash::Sha512,
                    npk: 133,
                },
                sk_e: "014784c692da35df6ecde98ee43ac425dbdd0969c0c72b42f2e708ab9d535415a8569bdacfcc0a114c85b8e3f26acf4d68115f8c91a66178cdbd03b7bcc5291e374b",
                sk_r: "01462680369ae375e4b3791070a7458ed527842f6a98a79ff5e0d4cbde83c27196a3916956655523a6a2556a7af62c5cadabe2ef9da3760bb21e005202f7b2462847",
                pk_r: "0401b45498c1714e2dce167d3caf162e45e0642afc7ed435df7902ccae0e84ba0f7d373f646b7738bbbdca11ed91bdeae3cdcba3301f2457be452f271fa6837580e661012af49583a62e48d44bed350c7118c0d8dc861c238c72a2bda17f64704f464b57338e7f40b60959480c0e58e6559b190d81663ed816e523b6b6a418f66d2451ec64",
                enc: "040138b385ca16bb0d5fa0c0665fbbd7e69e3ee29f63991d3e9b5fa740aab8900aaeed46ed73a49055758425a0ce36507c54b29cc5b85a5cee6bae0cf1c21f2731ece2013dc3fb7c8d21654bb161b463962ca19e8c654ff24c94dd2898de12051f1ed0692237fb02b2f8d1dc1c73e9b366b529eb436e98a996ee522aef863dd5739d2f29b0",
                shared: "776ab421302f6eff7d7cb5cb1adaea0cd50872c71c2d63c30c4f1d5e43653336fef33b103c67e7a98add2d3b66e2fda95b5b2a667aa9dac7e59cc1d46d30e818",
                key: "751e346ce8f0ddb2305c8a2a85c70d5cf559c53093656be636b9406d4d7d1b70",
                nonce: "55ff7a7d739c69f44b25447b",
                ct: "170f8beddfe949b75ef9c387e201baf4132fa7374593dfafa90768788b7b2b200aafcc6d80ea4c795a7c5b841a",
            },
        ];
        for v in vectors {
            let s = v.suite;
            let sk_e = PrivateKey::from_private_key(s.curve, &h(v.sk_e)).unwrap();
            let sk_r = PrivateKey::from_private_key(s.curve, &h(v.sk_r)).unwrap();
            let pk_r = h(v.pk_r);
            assert_eq!(sk_r.compute_public_key().unwrap().as_ref(), pk_r.as_slice());
            let shared = s.shared_secret(&sk_e, &pk_r, &h(v.enc), &pk_r).unwrap();
            assert_eq!(hex::encode(&*shared), v.shared);
            let (key, nonce) = s.key_schedule(&shared, &info).unwrap();
            assert_eq!(hex::encode(*key), v.key);
            assert_eq!(hex::encode(nonce), v.nonce);
            let (enc, ct) = s.seal(&sk_e, &pk_r, &info, &aad, &pt).unwrap();
            assert_eq!(hex::encode(&enc), v.enc);
            assert_eq!(hex::encode(&ct), v.ct);
            let opened = s.open(&sk_r, &pk_r, &enc, &ct, &info, &aad).unwrap();
            assert_eq!(*opened, pt);
        }
    }

    /// Interop with the RustCrypto `hpke` crate (coco's previous implementation), both ways,
    /// for both KEMs coco uses.
    #[test]
    fn interop_with_the_hpke_crate() {
        use hpke::aead::AesGcm256;
        use hpke::kdf::{HkdfSha256, HkdfSha384};
        use hpke::kem::{DhP384HkdfSha384, X25519HkdfSha256};
        use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
        let dek = [0x42u8; 32];
        // coco wraps, hpke opens.
        let (sk, pk) = DhP384HkdfSha384::gen_keypair();
        let w = wrap(Kem::P384, &pk.to_bytes(), &dek, b"info", b"aad").unwrap();
        let enc = <DhP384HkdfSha384 as hpke::Kem>::EncappedKey::from_bytes(&w.enc).unwrap();
        let pt = hpke::single_shot_open::<AesGcm256, HkdfSha384, DhP384HkdfSha384>(
            &OpModeR::Base,
            &sk,
            &enc,
            b"info",
            &w.ciphertext,
            b"aad",
        )
        .unwrap();
        assert_eq!(pt, dek);
        let (sk, pk) = X25519HkdfSha256::gen_keypair();
        let w = wrap(Kem::X25519, &pk.to_bytes(), &dek, b"info", b"aad").unwrap();
        let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&w.enc).unwrap();
        let pt = hpke::single_shot_open::<AesGcm256, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sk,
            &enc,
            b"info",
            &w.ciphertext,
            b"aad",
        )
        .unwrap();
        assert_eq!(pt, dek);
        // hpke wraps, coco opens.
        for kem in [Kem::P384, Kem::X25519] {
            let k = WorkloadKey::generate(kem);
            let (enc, ct) = match kem {
                Kem::P384 => {
                    let pk = <DhP384HkdfSha384 as hpke::Kem>::PublicKey::from_bytes(k.public_key())
                        .unwrap();
                    let (enc, ct) =
                        hpke::single_shot_seal::<AesGcm256, HkdfSha384, DhP384HkdfSha384>(
                            &OpModeS::Base,
                            &pk,
                            b"info",
                            &dek,
                            b"aad",
                        )
                        .unwrap();
                    (enc.to_bytes().to_vec(), ct)
                }
                Kem::X25519 => {
                    let pk = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(k.public_key())
                        .unwrap();
                    let (enc, ct) =
                        hpke::single_shot_seal::<AesGcm256, HkdfSha256, X25519HkdfSha256>(
                            &OpModeS::Base,
                            &pk,
                            b"info",
                            &dek,
                            b"aad",
                        )
                        .unwrap();
                    (enc.to_bytes().to_vec(), ct)
                }
            };
            let w = Wrapped {
                kem,
                enc,
                ciphertext: ct,
            };
            assert_eq!(*k.unwrap(&w, b"info", b"aad").unwrap(), dek);
        }
    }

    /// Public keys outside the serialised form of their KEM are refused: compressed or hybrid
    /// P-384 points, points off the curve, wrong lengths.
    #[test]
    fn malformed_public_keys_are_refused() {
        let k = WorkloadKey::generate(Kem::P384);
        let pk = k.public_key().to_vec();
        assert!(check_public_key(Kem::P384, &pk).is_ok());
        let mut compressed = vec![0x02 | (pk[96] & 1)];
        compressed.extend_from_slice(&pk[1..49]);
        assert!(check_public_key(Kem::P384, &compressed).is_err());
        let mut off_curve = pk.clone();
        off_curve[96] ^= 1;
        assert!(check_public_key(Kem::P384, &off_curve).is_err());
        assert!(wrap(Kem::P384, &off_curve, &[0; 32], b"", b"").is_err());
        assert!(check_public_key(Kem::P384, &pk[..96]).is_err());
        assert!(check_public_key(Kem::X25519, &[9u8; 31]).is_err());
        // The all-zero X25519 output (a low-order point) is refused.
        assert!(wrap(Kem::X25519, &[0u8; 32], &[0; 32], b"", b"").is_err());
    }
}
