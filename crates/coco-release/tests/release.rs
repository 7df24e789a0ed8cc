//! Key release end to end with the simulated TEE: the key is released only to bound,
//! affirming evidence; every refusal names its reason; 200 concurrent releases all unwrap.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use coco_core::appraise::ReferenceValues;
use coco_core::corim::{Corim, DecodeOptions};
use coco_core::ear::{Ear, Status};
use coco_core::keys::SigningKey;
use coco_core::policy::{Policy, Revocation};
use coco_core::profile::build;
use coco_evidence::EvidenceError;
use coco_evidence::sim::{SimGpu, SimRoot, SimVm};
use coco_release::keystore::{FileKeyStore, KeyStore, MemoryKeyStore};
use coco_release::simkit::SimAttester;
use coco_release::wire::EvidenceBundle;
use coco_release::workload;
use coco_release::wrap::Kem;
use coco_release::{ChallengeError, ReleaseError};
use coco_release::{KeyReleaseService, ServiceConfig};
use coco_seal::Dek;

const KEY_ID: &str = "kbs:///acme/llm/weights-v1";

fn vm() -> SimVm {
    SimVm {
        measurement: [0x11; 48],
        host_data: [0x22; 32],
        policy: 0x30000,
        guest_svn: 2,
    }
}

fn gpu() -> SimGpu {
    SimGpu {
        driver_version: "550.54.14".into(),
        vbios_version: "96.00.88.00.11".into(),
        measurements: vec![(1, [0x33; 48]), (2, [0x44; 48])],
        cc_mode: true,
        devtools_mode: false,
        serial: 1,
    }
}

fn gpu_n(serial: u64) -> SimGpu {
    SimGpu { serial, ..gpu() }
}

fn refs() -> ReferenceValues {
    let h = |b: u8, n: usize| hex::encode(vec![b; n]);
    let toml = format!(
        r#"id = "release-test"
[snp]
product = "genoa"
measurement = ["{}"]
host_data = ["{}"]
guest_svn_min = 1
policy = {{ value = "0x30000", mask = "0xC0000" }}
reported_tcb_min = {{ bootloader = 9, tee = 0, snp = 23, microcode = 72 }}

[[nvidia]]
chip = "GH100"
driver_version = ["550.54.14"]
vbios_version = ["96.00.88.00.11"]
measurements = {{ "1" = ["{}"], "2" = ["{}"] }}
"#,
        h(0x11, 48),
        h(0x22, 32),
        h(0x33, 48),
        h(0x44, 48)
    );
    let bytes = build::build(&toml).unwrap();
    ReferenceValues::from_corims(&[Corim::decode(&bytes, &DecodeOptions::default()).unwrap()])
        .unwrap()
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct World {
    root: SimRoot,
    service: KeyReleaseService,
    dek: Dek,
    log: Log,
}

fn world_with(policy: Policy, trust_sim: bool) -> World {
    let root = SimRoot::generate().unwrap();
    let keys = MemoryKeyStore::default();
    let dek = Dek::generate().unwrap();
    keys.put(KEY_ID, &dek);
    let log = Log::default();
    let service = KeyReleaseService::new(
        Box::new(keys),
        SigningKey::generate_p384().unwrap(),
        ServiceConfig {
            references: refs(),
            policy,
            sim_root: trust_sim.then(|| root.cert().clone()),
            challenge_ttl_secs: 60,
        },
    )
    .unwrap()
    .with_audit(Box::new(log.clone()));
    World {
        root,
        service,
        dek,
        log,
    }
}

fn demo_policy() -> Policy {
    Policy {
        allow_simulated: true,
        require_revocation_check: Revocation::NONE,
        ..Policy::default()
    }
}

fn world() -> World {
    world_with(demo_policy(), true)
}

fn cvm(w: &World, vm: SimVm, gpus: Vec<SimGpu>) -> SimAttester {
    SimAttester {
        platform: w.root.platform().unwrap(),
        vm,
        gpus,
    }
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn request(
    w: &World,
    a: &SimAttester,
    kem: Kem,
) -> (EvidenceBundle, coco_release::wrap::WorkloadKey) {
    let c = w.service.challenge(now()).unwrap();
    workload::bundle(a, &c, KEY_ID, kem).unwrap()
}

#[test]
fn released_only_to_bound_affirming_evidence_and_unwrapped_by_its_key() {
    let w = world();
    for kem in [Kem::P384, Kem::X25519] {
        let a = cvm(&w, vm(), vec![gpu_n(1), gpu_n(2)]);
        let (bundle, key) = request(&w, &a, kem);
        let resp = w.service.release(&bundle, now()).unwrap();
        let dek = workload::unwrap(&resp, &key, KEY_ID).unwrap();
        assert_eq!(dek.as_bytes(), w.dek.as_bytes());
        // The EAR verifies under the service key: three submodules, marked simulated, and a
        // warning (a simulated TEE's memory is not opaque to its host), not affirming.
        let ear = Ear::from_jwt(
            &resp.ear,
            &[w.service.ear_public_key()],
            coco_core::time::unix(now()),
        )
        .unwrap();
        assert_eq!(ear.overall(), Status::Warning);
        assert_eq!(
            ear.submods["cpu0"].trust_vector.get("runtime-opaque"),
            Some(32)
        );
        assert_eq!(ear.submods["cpu0"].trust_vector.get("executables"), Some(2));
        assert_eq!(
            ear.submods.keys().collect::<Vec<_>>(),
            ["cpu0", "gpu0", "gpu1"]
        );
        assert_eq!(ear.submods["cpu0"].extra["coco_simulated"], true);
        assert_eq!(
            ear.submods["cpu0"].trust_vector.get("instance-identity"),
            Some(2)
        );
        assert_eq!(
            ear.submods["gpu1"].trust_vector.get("instance-identity"),
            Some(2)
        );
        // The wrapped key is bound to the EAR and the key id: any change breaks the unwrap.
        let mut other = resp.clone();
        other.ear.push('x');
        assert!(workload::unwrap(&other, &key, KEY_ID).is_err());
        assert!(workload::unwrap(&resp, &key, "kbs:///acme/llm/other").is_err());
        let stranger = coco_release::wrap::WorkloadKey::generate(kem);
        assert!(workload::unwrap(&resp, &stranger, KEY_ID).is_err());
    }
    let log = String::from_utf8(w.log.0.lock().unwrap().clone()).unwrap();
    assert_eq!(log.lines().count(), 2);
    assert!(
        log.lines().all(
            |l| serde_json::from_str::<serde_json::Value>(l).unwrap()["decision"] == "release"
        )
    );
    assert!(
        !log.contains(&hex::encode(w.dek.as_bytes())),
        "no key material in the audit log"
    );
}

fn refused(w: &World, bundle: &EvidenceBundle) -> ReleaseError {
    w.service.release(bundle, now()).unwrap_err().error
}

/// The claims of an appraisal refusal's findings (panics on any other error).
fn findings(e: &ReleaseError) -> Vec<String> {
    match e {
        ReleaseError::Appraisal { findings, .. } => {
            findings.iter().map(|f| f.claim.clone()).collect()
        }
        other => panic!("expected an appraisal refusal, got {other:?}"),
    }
}

#[test]
fn replayed_and_expired_challenges_are_refused() {
    let w = world();
    let a = cvm(&w, vm(), vec![gpu()]);
    let (bundle, _) = request(&w, &a, Kem::P384);
    w.service.release(&bundle, now()).unwrap();
    assert!(matches!(
        refused(&w, &bundle),
        ReleaseError::Challenge(ChallengeError::Replayed)
    ));
    let (bundle, _) = request(&w, &a, Kem::P384);
    let r = w
        .service
        .release(&bundle, now() + Duration::from_secs(61))
        .unwrap_err();
    assert!(matches!(
        r.error,
        ReleaseError::Challenge(ChallengeError::Expired)
    ));
    // A token from another service (another secret) is refused.
    let other = world();
    let (bundle, _) = request(&other, &a, Kem::P384);
    assert!(matches!(
        refused(&w, &bundle),
        ReleaseError::Challenge(ChallengeError::NotIssuedHere)
    ));
}

/// A decision whose request went away stops: nothing is released, the refusal is audited as a
/// timeout, and the challenge is not spent (the workload may retry with it).
#[test]
fn a_cancelled_decision_releases_nothing_and_spends_no_challenge() {
    let w = world();
    let a = cvm(&w, vm(), vec![gpu()]);
    let (bundle, key) = request(&w, &a, Kem::P384);
    let cancel = coco_release::decision::Cancel::default();
    drop(cancel.on_drop());
    assert!(cancel.is_cancelled());
    let r = w
        .service
        .release_unless(&bundle, now(), None, &cancel)
        .unwrap_err();
    assert!(matches!(r.error, ReleaseError::Cancelled));
    assert_eq!(r.error.kind(), "timeout");
    assert!(r.ear.is_none());
    let log = String::from_utf8(w.log.0.lock().unwrap().clone()).unwrap();
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(last["decision"], "refuse");
    assert_eq!(last["kind"], "timeout");
    // Same challenge, not cancelled: released.
    let resp = w.service.release(&bundle, now()).unwrap();
    assert_eq!(
        workload::unwrap(&resp, &key, KEY_ID).unwrap().as_bytes(),
        w.dek.as_bytes()
    );
}

#[test]
fn debug_and_unknown_measurements_are_refused_with_their_reason() {
    let w = world();
    let debug = SimVm {
        policy: 0x30000 | 1 << 19,
        ..vm()
    };
    let (bundle, _) = request(&w, &cvm(&w, debug, vec![gpu()]), Kem::P384);
    let r = w.service.release(&bundle, now()).unwrap_err();
    assert_eq!(r.error.kind(), "appraisal");
    assert!(findings(&r.error).contains(&"cpu0.debug".to_string()));
    assert!(r.ear.is_some(), "the refusing EAR is returned");

    let other = SimVm {
        measurement: [0x99; 48],
        ..vm()
    };
    let (bundle, _) = request(&w, &cvm(&w, other, vec![gpu()]), Kem::P384);
    assert_eq!(findings(&refused(&w, &bundle)), ["cpu0.measurement"]);

    let mut bad_gpu = gpu_n(2);
    bad_gpu.measurements[1].1 = [0x45; 48];
    let (bundle, _) = request(&w, &cvm(&w, vm(), vec![gpu(), bad_gpu]), Kem::P384);
    assert_eq!(findings(&refused(&w, &bundle)), ["gpu1.measurement[2]"]);

    let devtools = SimGpu {
        devtools_mode: true,
        ..gpu()
    };
    let (bundle, _) = request(&w, &cvm(&w, vm(), vec![devtools]), Kem::P384);
    assert_eq!(findings(&refused(&w, &bundle)), ["gpu0.devtools_mode"]);
}

#[test]
fn a_gpu_report_from_another_session_breaks_the_binding() {
    let w = world();
    let a = cvm(&w, vm(), vec![gpu()]);
    let (first, _) = request(&w, &a, Kem::P384);
    let (mut second, _) = request(&w, &a, Kem::P384);
    second.gpus = first.gpus.clone();
    // The GPU report answers another session's nonce: refused at verification.
    let e = refused(&w, &second);
    assert!(
        matches!(e, ReleaseError::Evidence { index: 1, .. }),
        "{e:?}"
    );
    assert!(matches!(
        e.evidence_error(),
        Some(EvidenceError::Mismatch { .. })
    ));
    // Another workload key than the one the evidence is bound to: both nonces break.
    let (mut third, _) = request(&w, &a, Kem::P384);
    let other = coco_release::wrap::WorkloadKey::generate(Kem::P384);
    third.public_key = other.public_key().into();
    assert!(matches!(
        refused(&w, &third),
        ReleaseError::Evidence { index: 1, .. }
    ));
    // A CPU-only bundle bound to another key: the CPU report_data breaks.
    let policy = Policy {
        composition: coco_core::policy::Composition {
            gpus: Some(0),
            ..Default::default()
        },
        ..demo_policy()
    };
    let w = world_with(policy, true);
    let a = cvm(&w, vm(), vec![]);
    let (mut fourth, _) = request(&w, &a, Kem::P384);
    let other = coco_release::wrap::WorkloadKey::generate(Kem::P384);
    fourth.public_key = other.public_key().into();
    assert_eq!(findings(&refused(&w, &fourth)), ["cpu0.report_data"]);
}

/// The composition of a release: a bundle without the GPU the reference values describe, one
/// with the same GPU twice, or one with an attester the policy does not expect is refused,
/// and the finding names the attester.
#[test]
fn composition_is_part_of_the_decision() {
    let w = world();
    let (bundle, _) = request(&w, &cvm(&w, vm(), vec![]), Kem::P384);
    assert_eq!(findings(&refused(&w, &bundle)), ["composition.gpu0"]);
    let (bundle, _) = request(&w, &cvm(&w, vm(), vec![gpu(), gpu()]), Kem::P384);
    assert_eq!(findings(&refused(&w, &bundle)), ["composition.gpu1.device"]);
    // Exactly two GPUs by policy: a third is unexpected, one alone is missing its peer.
    let w = world_with(
        Policy {
            composition: coco_core::policy::Composition {
                gpus: Some(2),
                ..Default::default()
            },
            ..demo_policy()
        },
        true,
    );
    let three = cvm(&w, vm(), vec![gpu_n(1), gpu_n(2), gpu_n(3)]);
    let (bundle, _) = request(&w, &three, Kem::P384);
    assert_eq!(
        findings(&refused(&w, &bundle)),
        ["composition.gpu2.attester"]
    );
    let (bundle, _) = request(&w, &cvm(&w, vm(), vec![gpu_n(1)]), Kem::P384);
    assert_eq!(findings(&refused(&w, &bundle)), ["composition.gpu1"]);
    let (bundle, key) = request(&w, &cvm(&w, vm(), vec![gpu_n(1), gpu_n(2)]), Kem::P384);
    let resp = w.service.release(&bundle, now()).unwrap();
    assert_eq!(
        workload::unwrap(&resp, &key, KEY_ID).unwrap().as_bytes(),
        w.dek.as_bytes()
    );
    // A CPU platform the policy does not accept.
    let w = world_with(
        Policy {
            composition: coco_core::policy::Composition {
                cpu: Some(vec![coco_core::claims::Platform::Tdx]),
                ..Default::default()
            },
            ..demo_policy()
        },
        true,
    );
    let (bundle, _) = request(&w, &cvm(&w, vm(), vec![gpu()]), Kem::P384);
    assert_eq!(
        findings(&refused(&w, &bundle)),
        ["composition.cpu0.attester"]
    );
}

/// Binding and reference values cannot be switched off where keys are released.
#[test]
fn a_service_refuses_a_policy_without_binding_or_reference_values() {
    for (toml, setting) in [
        ("require_binding = false", "require_binding"),
        (
            "require_reference_values = false",
            "require_reference_values",
        ),
    ] {
        let e = KeyReleaseService::new(
            Box::new(MemoryKeyStore::default()),
            SigningKey::generate_p384().unwrap(),
            ServiceConfig {
                references: refs(),
                policy: Policy::from_toml(toml).unwrap(),
                sim_root: None,
                challenge_ttl_secs: 60,
            },
        )
        .unwrap_err();
        assert!(
            matches!(e, ReleaseError::UnsafePolicy { setting: s } if s == setting),
            "{e:?}"
        );
    }
}

#[test]
fn simulated_evidence_needs_the_root_and_the_policy() {
    // Not configured with the sim root: refused outright.
    let w = world_with(demo_policy(), false);
    let a = cvm(&w, vm(), vec![]);
    let (bundle, _) = request(&w, &a, Kem::P384);
    let e = refused(&w, &bundle);
    assert!(
        matches!(e, ReleaseError::Evidence { index: 0, .. }),
        "{e:?}"
    );
    assert!(matches!(
        e.evidence_error(),
        Some(EvidenceError::Platform(_))
    ));
    // Root configured, but the default policy refuses simulation.
    let w = world_with(
        Policy {
            require_revocation_check: Revocation::NONE,
            ..Policy::default()
        },
        true,
    );
    let a = cvm(&w, vm(), vec![]);
    let (bundle, _) = request(&w, &a, Kem::P384);
    assert!(findings(&refused(&w, &bundle)).contains(&"cpu0.simulated".to_string()));
    // A platform certified by another sim root.
    let w = world();
    let stranger = SimRoot::generate().unwrap();
    let a = SimAttester {
        platform: stranger.platform().unwrap(),
        vm: vm(),
        gpus: vec![],
    };
    let (bundle, _) = request(&w, &a, Kem::P384);
    assert_eq!(refused(&w, &bundle).kind(), "evidence");
}

#[test]
fn malformed_requests_are_refused_and_the_service_keeps_serving() {
    let w = world();
    let a = cvm(&w, vm(), vec![gpu()]);
    let (good, key) = request(&w, &a, Kem::P384);
    let mut b = good.clone();
    b.version = 2;
    assert_eq!(refused(&w, &b).kind(), "request");
    // Bytes that are not base64 never reach the service: the document is refused when read.
    let mut v = serde_json::to_value(&good).unwrap();
    v["public_key"] = "not base64!".into();
    assert!(serde_json::from_value::<coco_release::wire::EvidenceBundle>(v).is_err());
    let mut b = good.clone();
    b.public_key = vec![0u8; 3].into();
    assert_eq!(refused(&w, &b).kind(), "wrap");
    // Evidence that does not verify does not spend the challenge (whoever saw the token
    // cannot burn it with garbage) ...
    let mut b = good.clone();
    b.cpu.evidence = vec![0u8; 3].into();
    assert_eq!(refused(&w, &b).kind(), "evidence");
    let resp = w.service.release(&good, now()).unwrap();
    assert_eq!(
        workload::unwrap(&resp, &key, KEY_ID).unwrap().as_bytes(),
        w.dek.as_bytes()
    );
    // ... a release does.
    assert!(matches!(
        refused(&w, &good),
        ReleaseError::Challenge(ChallengeError::Replayed)
    ));
    let (mut b, _) = request(&w, &a, Kem::P384);
    b.key_id = "kbs:///nobody".into();
    assert_eq!(refused(&w, &b).kind(), "key");
    let (mut b, _) = request(&w, &a, Kem::P384);
    b.key_id = "x".repeat(300);
    assert_eq!(refused(&w, &b).kind(), "request");
    // Still serving.
    let (fresh, key2) = request(&w, &a, Kem::P384);
    let resp = w.service.release(&fresh, now()).unwrap();
    assert_eq!(
        workload::unwrap(&resp, &key2, KEY_ID).unwrap().as_bytes(),
        w.dek.as_bytes()
    );
    assert!(workload::unwrap(&resp, &key, KEY_ID).is_err());
}

/// An audit sink that fails: nothing may be released, and the refusal says why.
#[test]
fn a_release_whose_audit_record_cannot_be_written_does_not_happen() {
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from_raw_os_error(28)) // ENOSPC, as on /dev/full
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let w = world();
    let service = KeyReleaseService::new(
        Box::new({
            let k = MemoryKeyStore::default();
            k.put(KEY_ID, &w.dek);
            k
        }),
        SigningKey::generate_p384().unwrap(),
        ServiceConfig {
            references: refs(),
            policy: demo_policy(),
            sim_root: Some(w.root.cert().clone()),
            challenge_ttl_secs: 60,
        },
    )
    .unwrap()
    .with_audit(Box::new(Full));
    let a = cvm(&w, vm(), vec![gpu()]);
    let c = service.challenge(now()).unwrap();
    let (bundle, _) = workload::bundle(&a, &c, KEY_ID, Kem::P384).unwrap();
    let r = service.release(&bundle, now()).unwrap_err();
    assert!(matches!(r.error, ReleaseError::Audit(_)), "{:?}", r.error);
    assert_eq!(coco_release::http::http_status(&r.error), 503);
}

#[test]
fn two_hundred_concurrent_releases() {
    let w = world();
    let platform = cvm(&w, vm(), vec![gpu()]);
    let ok = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..25 {
                    let (bundle, key) = request(&w, &platform, Kem::X25519);
                    let resp = w.service.release(&bundle, now()).unwrap();
                    assert_eq!(
                        workload::unwrap(&resp, &key, KEY_ID).unwrap().as_bytes(),
                        w.dek.as_bytes()
                    );
                    ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(ok.into_inner(), 200);
}

#[test]
fn file_key_store() {
    let d = tempfile::tempdir().unwrap();
    let store = FileKeyStore::open(&d.path().join("keys")).unwrap();
    let dek = Dek::generate().unwrap();
    store.put(KEY_ID, &dek).unwrap();
    assert_eq!(
        store.get(KEY_ID).unwrap().unwrap().as_bytes(),
        dek.as_bytes()
    );
    assert!(store.get("other").unwrap().is_none());
    assert!(store.put(KEY_ID, &dek).is_err(), "no overwrite");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for e in std::fs::read_dir(d.path().join("keys")).unwrap() {
            assert_eq!(
                e.unwrap().metadata().unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}

/// A real NVIDIA report goes through the real verifier: it verifies (chain, signature) but
/// answers another nonce than this session's binding, so it is refused for that reason; a
/// broken chain is refused as evidence.
#[test]
fn real_nvidia_gpu_evidence_is_verified_and_bound() {
    let w = world();
    let a = cvm(&w, vm(), vec![gpu()]);
    let s = coco_evidence::vectors::dir().join("nvidia/hopper-h100-550.90.07");
    let report = std::fs::read(s.join("attestation_report.bin")).unwrap();
    let chain = std::fs::read_to_string(s.join("cert_chain.pem")).unwrap();
    let (mut bundle, _) = request(&w, &a, Kem::P384);
    bundle.gpus = vec![coco_release::wire::GpuEvidence {
        platform: "nvidia".into(),
        evidence: report.clone().into(),
        certs: Some(chain.clone()),
    }];
    let e = refused(&w, &bundle);
    assert!(
        matches!(&e, ReleaseError::Evidence { index: 1, platform, .. } if platform == "nvidia"),
        "{e:?}"
    );
    assert!(
        matches!(e.evidence_error(), Some(EvidenceError::Mismatch { what, .. }) if what == "GPU report nonce"),
        "{e:?}"
    );
    // The same report with a chain of another GPU: the signature fails first.
    let other = std::fs::read_to_string(
        coco_evidence::vectors::dir().join("nvidia/hopper-h100-545.00-e2e/cert_chain.pem"),
    )
    .unwrap();
    let (mut bundle, _) = request(&w, &a, Kem::P384);
    bundle.gpus = vec![coco_release::wire::GpuEvidence {
        platform: "nvidia".into(),
        evidence: report.clone().into(),
        certs: Some(other),
    }];
    let e = refused(&w, &bundle);
    assert!(
        matches!(&e, ReleaseError::Evidence { index: 1, .. }),
        "{e:?}"
    );
    assert!(
        matches!(e.evidence_error(), Some(EvidenceError::Signature { .. })),
        "{e:?}"
    );
}
