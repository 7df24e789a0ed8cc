//! One key release as the service performs it, beside the primitives it is made of. Run:
//! `cargo bench -p coco-benches --bench release`.
//!
//! - `release/p384`, `release/x25519`: `KeyReleaseService::release` of a bundle with SNP-shaped
//!   CPU evidence and one GPU report (simulated TEE: real layouts, P-384 signatures, chains
//!   cached after the first release): challenge check, both verifications, binding,
//!   appraisal, EAR signed ES384, the data key HPKE-wrapped with that KEM, the audit line.
//!   The workload's side (evidence, keys) is prepared outside the measurement.
//! - `primitive/*`: the floor, from the same libraries: P-384 and X25519 ECDH with a fresh
//!   key (AWS-LC), ECDSA P-384 signing (AWS-LC and RustCrypto's `p384`), P-384 verification
//!   (AWS-LC), and an HPKE seal of 32 bytes per KEM with coco's HPKE (AWS-LC) and with the
//!   RustCrypto `hpke` crate.
//! - `release/p384_audit_file`: `release/p384` with the audit log in a file.
//! - `kbs/attest`, `kbs/resource`: the Key Broker protocol on the same service and evidence:
//!   attest (verification, the JCS binding, appraisal, EAR, the session token) and a resource
//!   released as a JWE to a P-256 TEE key.

use std::hint::black_box;
use std::time::SystemTime;

use coco_evidence::sim::SimRoot;
use coco_release::keystore::MemoryKeyStore;
use coco_release::wire::EvidenceBundle;
use coco_release::wrap::Kem;
use coco_release::{KeyReleaseService, simkit, workload};
use coco_seal::Dek;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn service(root: &SimRoot, audit: Box<dyn std::io::Write + Send>) -> KeyReleaseService {
    let keys = MemoryKeyStore::default();
    keys.put("model-1", &Dek::generate().unwrap());
    keys.put("default/model/dek", &Dek::generate().unwrap());
    simkit::service(root, Box::new(keys), 1)
        .unwrap()
        .with_audit(audit)
}

fn bench(c: &mut Criterion) {
    let root = SimRoot::generate().unwrap();
    let svc = service(&root, Box::new(std::io::sink()));
    let cvm = simkit::attester(&root, 1).unwrap();
    let bundle = |kem: Kem| -> EvidenceBundle {
        let ch = svc.challenge(SystemTime::now()).unwrap();
        workload::bundle(&cvm, &ch, "model-1", kem).unwrap().0
    };
    // Warm the chain cache.
    svc.release(&bundle(Kem::P384), SystemTime::now()).unwrap();

    let mut g = c.benchmark_group("release");
    for (name, kem) in [("p384", Kem::P384), ("x25519", Kem::X25519)] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || bundle(kem),
                |bundle| black_box(svc.release(&bundle, SystemTime::now()).unwrap()),
                BatchSize::SmallInput,
            )
        });
    }
    // The same with the audit log in a file (one write and flush per release).
    let log = std::env::temp_dir().join(format!("coco-bench-audit-{}.jsonl", std::process::id()));
    let file = Box::new(std::fs::File::create(&log).unwrap());
    let svc_file = service(&root, file);
    let ch = svc_file.challenge(SystemTime::now()).unwrap();
    let b0 = workload::bundle(&cvm, &ch, "model-1", Kem::P384).unwrap().0;
    svc_file.release(&b0, SystemTime::now()).unwrap();
    g.bench_function("p384_audit_file", |b| {
        b.iter_batched(
            || {
                let ch = svc_file.challenge(SystemTime::now()).unwrap();
                workload::bundle(&cvm, &ch, "model-1", Kem::P384).unwrap().0
            },
            |bundle| black_box(svc_file.release(&bundle, SystemTime::now()).unwrap()),
            BatchSize::SmallInput,
        )
    });
    let _ = std::fs::remove_file(&log);
    g.finish();

    // The KBS protocol on the same service and evidence (simulated SNP + one GPU): `attest`
    // (verify, bind through the JCS binding, appraise, EAR, session token) and `resource` (the
    // data key as a JWE to the P-256 TEE key); the client's side is prepared outside.
    let mut g = c.benchmark_group("kbs");
    let pair = coco_release::jwe::TeeKeyPair::generate(coco_release::jwe::Curve::P256).unwrap();
    let jwk = pair.public_jwk();
    let kbs_request = || -> (String, Vec<u8>) {
        use coco_release::kbs::{binding, client};
        use coco_release::workload::Attester;
        let (c, token) = svc
            .kbs_auth(
                br#"{"version":"0.4.0","tee":"snp","extra-params":""}"#,
                SystemTime::now(),
                None,
            )
            .unwrap();
        let h = coco_core::initdata::Algorithm::Sha384;
        let gpus = cvm
            .gpu_evidence(&binding::gpu_nonce(h, &c.nonce, &jwk).unwrap())
            .unwrap();
        let additional = client::additional_evidence(&gpus);
        let rd = binding::report_data(h, &c.nonce, &jwk, &additional).unwrap();
        let body = serde_json::json!({
            "runtime-data": {"nonce": c.nonce, "tee-pubkey": jwk},
            "tee-evidence": {
                "primary_evidence": client::primary_evidence(&cvm.cpu_evidence(&rd).unwrap(), 48).unwrap(),
                "additional_evidence": additional,
            },
        });
        (token, body.to_string().into_bytes())
    };
    let cancel = coco_release::decision::Cancel::default();
    g.bench_function("attest", |b| {
        b.iter_batched(
            kbs_request,
            |(token, body)| {
                black_box(
                    svc.kbs_attest(Some(&token), &body, SystemTime::now(), None, &cancel)
                        .unwrap(),
                )
            },
            BatchSize::SmallInput,
        )
    });
    let (token, body) = kbs_request();
    let (_, attested) = svc
        .kbs_attest(Some(&token), &body, SystemTime::now(), None, &cancel)
        .unwrap();
    g.bench_function("resource", |b| {
        b.iter(|| {
            black_box(
                svc.kbs_resource(
                    Some(&attested),
                    "default/model/dek",
                    SystemTime::now(),
                    None,
                )
                .unwrap(),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("primitive");
    {
        use aws_lc_rs::agreement::{
            self, ECDH_P384, EphemeralPrivateKey, UnparsedPublicKey, X25519,
        };
        use aws_lc_rs::rand::SystemRandom;
        let rng = SystemRandom::new();
        for (name, alg) in [("p384_ecdh_awslc", &ECDH_P384), ("x25519_awslc", &X25519)] {
            let peer = EphemeralPrivateKey::generate(alg, &rng).unwrap();
            let peer_pk = peer.compute_public_key().unwrap();
            g.bench_function(name, |b| {
                b.iter(|| {
                    let sk = EphemeralPrivateKey::generate(alg, &rng).unwrap();
                    let pk = sk.compute_public_key().unwrap();
                    let shared = agreement::agree_ephemeral(
                        sk,
                        UnparsedPublicKey::new(alg, peer_pk.as_ref()),
                        (),
                        |s| Ok(s.len()),
                    )
                    .unwrap();
                    black_box((pk, shared))
                })
            });
        }
        use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, doc.as_ref()).unwrap();
        let msg = [0x5au8; 600];
        g.bench_function("es384_sign_awslc", |b| {
            b.iter(|| black_box(kp.sign(&rng, black_box(&msg)).unwrap()))
        });
        let sig = kp.sign(&rng, &msg).unwrap();
        let pk = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED,
            kp.public_key().as_ref().to_vec(),
        );
        g.bench_function("p384_verify_awslc", |b| {
            b.iter(|| pk.verify(black_box(&msg), sig.as_ref()).unwrap())
        });
        let rc = p384::ecdsa::SigningKey::from_slice(&[0x11; 48]).unwrap();
        g.bench_function("es384_sign_rustcrypto", |b| {
            use p384::ecdsa::signature::Signer;
            b.iter(|| {
                let s: p384::ecdsa::Signature = rc.sign(black_box(&msg));
                black_box(s)
            })
        });
    }
    for (name, kem) in [
        ("hpke_seal_p384_coco", Kem::P384),
        ("hpke_seal_x25519_coco", Kem::X25519),
    ] {
        let k = coco_release::wrap::WorkloadKey::generate(kem);
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    coco_release::wrap::wrap(kem, k.public_key(), &[7u8; 32], b"info", b"aad")
                        .unwrap(),
                )
            })
        });
    }
    {
        use hpke::aead::AesGcm256;
        use hpke::kdf::{HkdfSha256, HkdfSha384};
        use hpke::kem::{DhP384HkdfSha384, X25519HkdfSha256};
        use hpke::{Kem as _, OpModeS};
        let (_, pk) = DhP384HkdfSha384::gen_keypair();
        g.bench_function("hpke_seal_p384_rustcrypto", |b| {
            b.iter(|| {
                black_box(
                    hpke::single_shot_seal::<AesGcm256, HkdfSha384, DhP384HkdfSha384>(
                        &OpModeS::Base,
                        &pk,
                        b"info",
                        &[7u8; 32],
                        b"aad",
                    )
                    .unwrap(),
                )
            })
        });
        let (_, pk) = X25519HkdfSha256::gen_keypair();
        g.bench_function("hpke_seal_x25519_rustcrypto", |b| {
            b.iter(|| {
                black_box(
                    hpke::single_shot_seal::<AesGcm256, HkdfSha256, X25519HkdfSha256>(
                        &OpModeS::Base,
                        &pk,
                        b"info",
                        &[7u8; 32],
                        b"aad",
                    )
                    .unwrap(),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
