//! The KBS protocol (0.4.0) of `coco serve`, with the simulated platform: coco's own KBS client
//! over loopback HTTP, a client made of the `kbs-types` crate's messages (the types Trustee and
//! the guest client use), sessions continued by another replica, and every refusal with its
//! documented problem type and status.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use coco_evidence::sim::SimRoot;
use coco_release::challenge::{ChallengeIssuer, MemoryReplayStore, ReplayStore};
use coco_release::decision::Cancel;
use coco_release::http::{Limits, Server};
use coco_release::jwe::{Curve, TeeKeyPair};
use coco_release::kbs::client::{self, KbsClient};
use coco_release::kbs::{KbsError, binding};
use coco_release::keystore::MemoryKeyStore;
use coco_release::simkit::SimAttester;
use coco_release::tls::ClientTls;
use coco_release::workload::Attester;
use coco_release::{KeyReleaseService, ReleaseError, simkit};
use coco_seal::Dek;
use serde_json::{Value, json};

const RESOURCE: &str = "default/model/dek";

struct Kit {
    root: SimRoot,
    dek: Dek,
    audit: Arc<Mutex<Vec<u8>>>,
}

#[derive(Clone)]
struct Audit(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Audit {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A replay store shared by replicas (in one process, for the test).
struct Shared(Arc<MemoryReplayStore>);
impl ReplayStore for Shared {
    fn first_use(&self, n: &[u8; 32], exp: u64, now: u64) -> coco_release::Result<bool> {
        self.0.first_use(n, exp, now)
    }
    fn is_used(&self, n: &[u8; 32]) -> bool {
        self.0.is_used(n)
    }
}

impl Kit {
    fn new() -> Self {
        Self {
            root: SimRoot::generate().unwrap(),
            dek: Dek::generate().unwrap(),
            audit: Arc::default(),
        }
    }

    /// A replica: the kit's root, key and audit log; challenges under `secret`, used nonces
    /// in `store`.
    fn replica(&self, secret: [u8; 32], store: &Arc<MemoryReplayStore>) -> KeyReleaseService {
        let keys = MemoryKeyStore::default();
        keys.put(RESOURCE, &self.dek);
        simkit::service(&self.root, Box::new(keys), 1)
            .unwrap()
            .with_audit(Box::new(Audit(self.audit.clone())))
            .with_challenges(
                ChallengeIssuer::new(secret, 60),
                Box::new(Shared(store.clone())),
            )
    }

    fn service(&self) -> KeyReleaseService {
        self.replica([7; 32], &Arc::default())
    }

    fn cvm(&self) -> SimAttester {
        simkit::attester(&self.root, 1).unwrap()
    }

    fn audit_lines(&self) -> Vec<Value> {
        String::from_utf8(self.audit.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn auth(s: &KeyReleaseService) -> (String, String) {
    let body = json!({"version": "0.4.0", "tee": "snp",
        "extra-params": {"supported-hash-algorithms": ["sha256", "sha384", "sha512", "sm3"]}});
    let (c, token) = s
        .kbs_auth(body.to_string().as_bytes(), now(), None)
        .unwrap();
    assert_eq!(c.extra_params, json!({"selected-hash-algorithm": "sha384"}));
    (c.nonce, token)
}

/// An attestation of `cvm` for `nonce` and `key`, bound to `bind_nonce` / `bind_key`.
fn attestation(
    cvm: &SimAttester,
    nonce: &str,
    key: &Value,
    bind_nonce: &str,
    bind_key: &Value,
) -> Vec<u8> {
    let h = coco_core::initdata::Algorithm::Sha384;
    let gpus = cvm
        .gpu_evidence(&binding::gpu_nonce(h, bind_nonce, bind_key).unwrap())
        .unwrap();
    let additional = client::additional_evidence(&gpus);
    let rd = binding::report_data(h, bind_nonce, bind_key, &additional).unwrap();
    let cpu = cvm.cpu_evidence(&rd).unwrap();
    json!({
        "runtime-data": {"nonce": nonce, "tee-pubkey": key},
        "tee-evidence": {
            "primary_evidence": client::primary_evidence(&cpu, 48).unwrap(),
            "additional_evidence": additional,
        },
    })
    .to_string()
    .into_bytes()
}

fn attest(s: &KeyReleaseService, token: &str, body: &[u8]) -> Result<(String, String), KbsError> {
    s.kbs_attest(Some(token), body, now(), None, &Cancel::default())
        .map(|(t, session)| (t.token, session))
}

#[test]
fn coco_fetches_from_its_own_kbs_over_http_with_a_gpu() {
    let kit = Kit::new();
    let server = Server::start(
        Arc::new(kit.service()),
        "127.0.0.1:0".parse().unwrap(),
        Limits::default(),
    )
    .unwrap();
    let c = KbsClient::new(&server.url(), &ClientTls::default()).unwrap();
    let got = c.get_resource(&kit.cvm(), "snp", RESOURCE).unwrap();
    assert_eq!(&got.resource[..], kit.dek.as_bytes());
    // The token is coco's EAR: the CPU submodule carries the TEE key where Trustee's does.
    let payload: Value =
        serde_json::from_slice(&B64U.decode(got.token.split('.').nth(1).unwrap()).unwrap())
            .unwrap();
    let cpu0 = &payload["submods"]["cpu0"];
    assert_eq!(
        cpu0["ear_status"], "warning",
        "simulated: a warning, never affirming"
    );
    assert_eq!(
        cpu0["ear.veraison.annotated-evidence"]["runtime_data_claims"]["tee-pubkey"]["crv"],
        "P-256"
    );
    assert!(payload["exp"].as_i64().unwrap() > payload["iat"].as_i64().unwrap());
    assert_eq!(payload["submods"]["gpu0"]["ear_status"], "warning");
    // A second fetch is a new session and works the same.
    assert_eq!(
        &c.get_resource(&kit.cvm(), "snp", RESOURCE)
            .unwrap()
            .resource[..],
        kit.dek.as_bytes()
    );
    let events: Vec<String> = kit
        .audit_lines()
        .iter()
        .map(|l| l["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        events,
        ["kbs-attest", "key-release", "kbs-attest", "key-release"]
    );
    // The metrics tell attestations from releases.
    let m = ureq::get(format!("{}/metrics", server.url()))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    for line in [
        "coco_kbs_attestations_total 2",
        "coco_kbs_attest_duration_seconds_count 2",
        "coco_releases_total 2",
        "coco_release_duration_seconds_count 2",
    ] {
        assert!(m.lines().any(|l| l == line), "{line} not in\n{m}");
    }
}

/// A client written with the `kbs-types` messages, as Trustee's guest client is: every request
/// parses on the service, every answer parses as `kbs-types` reads it, and the protected header
/// re-serialised by `kbs-types` is byte for byte the one received (the guest client's AAD).
#[test]
fn kbs_types_messages_round_trip() {
    let kit = Kit::new();
    let server = Server::start(
        Arc::new(kit.service()),
        "127.0.0.1:0".parse().unwrap(),
        Limits::default(),
    )
    .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = |p: &str| format!("{}/kbs/v0/{p}", server.url());

    // Without a session, a resource is a 401 problem in JSON (Trustee's kbs-client starts so).
    let mut r = agent
        .get(url(&format!("resource/{RESOURCE}")))
        .call()
        .unwrap();
    assert_eq!(r.status(), 401);
    let p: kbs_types::ErrorInformation = r.body_mut().read_json().unwrap();
    assert_eq!(
        p.error_type,
        "https://github.com/confidential-containers/kbs/errors/TokenNotFound"
    );

    let req = kbs_types::Request {
        version: "0.4.0".into(),
        tee: kbs_types::Tee::Snp,
        extra_params: json!({"supported-hash-algorithms": ["sha384"]}),
    };
    let mut r = agent.post(url("auth")).send_json(&req).unwrap();
    assert_eq!(r.status(), 200);
    let set_cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(set_cookie.starts_with("kbs-session-id=") && set_cookie.contains("Path=/kbs/v0"));
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let challenge: kbs_types::Challenge = r.body_mut().read_json().unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&challenge.nonce)
            .unwrap()
            .len(),
        32
    );

    let key = TeeKeyPair::generate(Curve::P256).unwrap();
    let jwk = key.public_jwk();
    let tee_pubkey: kbs_types::TeePubKey = serde_json::from_value(jwk.clone()).unwrap();
    // kbs-types writes the key as the guest client sends it; the binding is over that.
    let sent_key = serde_json::to_value(&tee_pubkey).unwrap();
    let cvm = kit.cvm();
    let body: Value = serde_json::from_slice(&attestation(
        &cvm,
        &challenge.nonce,
        &sent_key,
        &challenge.nonce,
        &sent_key,
    ))
    .unwrap();
    let att = kbs_types::Attestation {
        init_data: None,
        runtime_data: kbs_types::RuntimeData {
            nonce: challenge.nonce.clone(),
            tee_pubkey,
        },
        tee_evidence: serde_json::from_value(body["tee-evidence"].clone()).unwrap(),
    };
    let mut r = agent
        .post(url("attest"))
        .header("cookie", &cookie)
        .send_json(&att)
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let _token: Value = r.body_mut().read_json().unwrap();

    let mut r = agent
        .get(url(&format!("resource/{RESOURCE}")))
        .header("cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.body_mut().read_to_string().unwrap();
    let received: Value = serde_json::from_str(&text).unwrap();
    let response: kbs_types::Response = serde_json::from_str(&text).unwrap();
    assert_eq!(response.protected.alg, "ECDH-ES+A256KW");
    assert_eq!(response.protected.enc, "A256GCM");
    assert_eq!(
        response.protected.generate_aad().unwrap(),
        received["protected"].as_str().unwrap().as_bytes(),
        "the guest client authenticates the header as kbs-types re-serialises it"
    );
    assert_eq!(&key.decrypt(&received).unwrap()[..], kit.dek.as_bytes());
    // And what coco's client sends parses as kbs-types reads it.
    let ours = attestation(&cvm, &challenge.nonce, &jwk, &challenge.nonce, &jwk);
    serde_json::from_slice::<kbs_types::Attestation>(&ours).unwrap();
}

#[test]
fn a_session_continues_on_another_replica() {
    let kit = Kit::new();
    let store = Arc::new(MemoryReplayStore::default());
    let (a, b) = (kit.replica([3; 32], &store), kit.replica([3; 32], &store));
    let (nonce, token) = auth(&a);
    let jwk = TeeKeyPair::generate(Curve::P256).unwrap().public_jwk();
    let body = attestation(&kit.cvm(), &nonce, &jwk, &nonce, &jwk);
    let (_, attested) = attest(&b, &token, &body).unwrap();
    a.kbs_resource(Some(&attested), RESOURCE, now(), None)
        .unwrap();
    // The nonce is spent for both.
    assert!(matches!(
        attest(&a, &token, &body),
        Err(KbsError::Session(coco_release::ChallengeError::Replayed))
    ));
    // A replica with another secret knows none of it.
    let c = kit.replica([4; 32], &store);
    assert!(matches!(
        c.kbs_resource(Some(&attested), RESOURCE, now(), None),
        Err(KbsError::Session(
            coco_release::ChallengeError::NotIssuedHere
        ))
    ));
}

fn kind(e: &KbsError) -> (&'static str, u16) {
    (e.error_type(), e.status())
}

#[test]
fn every_refusal_has_its_problem_type_and_status() {
    let kit = Kit::new();
    let s = kit.service();
    let cvm = kit.cvm();
    let jwk = TeeKeyPair::generate(Curve::P256).unwrap().public_jwk();
    let other = TeeKeyPair::generate(Curve::P256).unwrap().public_jwk();

    // auth: version and TEE.
    let e = s
        .kbs_auth(
            br#"{"version":"0.3.0","tee":"snp","extra-params":""}"#,
            now(),
            None,
        )
        .unwrap_err();
    assert!(matches!(e, KbsError::Version(_)));
    assert_eq!(kind(&e), ("AttestationError", 401));
    let e = s
        .kbs_auth(
            br#"{"version":"0.4.0","tee":"cca","extra-params":""}"#,
            now(),
            None,
        )
        .unwrap_err();
    assert!(matches!(e, KbsError::Tee(_)));
    assert_eq!(
        kind(&s.kbs_auth(b"{", now(), None).unwrap_err()),
        ("SerdeError", 401)
    );

    // attest: no session, forged session, wrong nonce, evidence bound to another key or nonce.
    let (nonce, token) = auth(&s);
    let good = attestation(&cvm, &nonce, &jwk, &nonce, &jwk);
    let e = s
        .kbs_attest(None, &good, now(), None, &Cancel::default())
        .unwrap_err();
    assert_eq!(kind(&e), ("TokenNotFound", 401));
    let mut forged = token.clone();
    forged.insert(5, 'A');
    assert_eq!(
        kind(&attest(&s, &forged, &good).unwrap_err()),
        ("InvalidSession", 401)
    );
    let e = attest(&s, &token, &attestation(&cvm, "AAAA", &jwk, "AAAA", &jwk)).unwrap_err();
    assert!(
        matches!(&e, KbsError::Attestation(ReleaseError::Request(_))),
        "{e}"
    );
    assert_eq!(kind(&e), ("AttestationError", 401));
    // Evidence bound to another TEE key, sent with this one: the GPU's nonce does not verify;
    // without GPUs, the CPU's report data is the binding finding. No token either way.
    let e = attest(&s, &token, &attestation(&cvm, &nonce, &jwk, &nonce, &other)).unwrap_err();
    assert!(
        matches!(
            &e,
            KbsError::Attestation(ReleaseError::Evidence { index: 1, .. })
        ),
        "{e}"
    );
    let mut cpu_only = kit.cvm();
    cpu_only.gpus.clear();
    let e = attest(
        &s,
        &token,
        &attestation(&cpu_only, &nonce, &jwk, &nonce, &other),
    )
    .unwrap_err();
    let KbsError::Attestation(ReleaseError::Appraisal { findings, .. }) = &e else {
        panic!("{e}")
    };
    let claims: Vec<&str> = findings.iter().map(|f| f.claim.as_str()).collect();
    assert_eq!(claims, ["cpu0.report_data"]);
    assert_eq!(kind(&e), ("AttestationError", 401));
    // Evidence bound to an older nonce.
    let e = attest(&s, &token, &attestation(&cvm, &nonce, &jwk, "b2xk", &jwk)).unwrap_err();
    assert_eq!(kind(&e), ("AttestationError", 401));
    // An unusable TEE key is refused before anything is spent.
    let e = attest(
        &s,
        &token,
        &attestation(
            &cvm,
            &nonce,
            &json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
            &nonce,
            &jwk,
        ),
    )
    .unwrap_err();
    assert_eq!(kind(&e), ("AttestationError", 401));
    // Garbage.
    assert_eq!(
        kind(&attest(&s, &token, b"[]").unwrap_err()),
        ("SerdeError", 401)
    );
    // None of that spent the nonce: the good attestation still passes, once.
    let (_, attested) = attest(&s, &token, &good).unwrap();
    assert!(matches!(
        attest(&s, &token, &good),
        Err(KbsError::Session(coco_release::ChallengeError::Replayed))
    ));
    // The attested session cannot attest again.
    assert!(matches!(
        attest(&s, &attested, &good),
        Err(KbsError::Step(_))
    ));

    // resource: paths, unknown resources, sessions that did not attest, expiry.
    let e = s
        .kbs_resource(Some(&attested), "default/model", now(), None)
        .unwrap_err();
    assert_eq!(kind(&e), ("InvalidRequestPath", 404));
    let e = s
        .kbs_resource(Some(&attested), "default/model/other", now(), None)
        .unwrap_err();
    assert_eq!(kind(&e), ("ResourceNotFound", 404));
    let e = s
        .kbs_resource(Some(&token), RESOURCE, now(), None)
        .unwrap_err();
    assert!(matches!(e, KbsError::Step(_)));
    assert_eq!(kind(&e), ("InvalidSession", 401));
    let later = now() + Duration::from_secs(coco_release::kbs::broker::ATTESTED_SESSION_SECS + 1);
    let e = s
        .kbs_resource(Some(&attested), RESOURCE, later, None)
        .unwrap_err();
    assert!(matches!(
        e,
        KbsError::Session(coco_release::ChallengeError::Expired)
    ));
    s.kbs_resource(Some(&attested), RESOURCE, now(), None)
        .unwrap();
    // An auth session past the challenge lifetime.
    let (nonce, token) = auth(&s);
    let late = now() + Duration::from_secs(61);
    let e = s
        .kbs_attest(
            Some(&token),
            &attestation(&cvm, &nonce, &jwk, &nonce, &jwk),
            late,
            None,
            &Cancel::default(),
        )
        .unwrap_err();
    assert!(matches!(
        e,
        KbsError::Session(coco_release::ChallengeError::Expired)
    ));

    // Every refusal was audited with its type.
    let refused: Vec<String> = kit
        .audit_lines()
        .iter()
        .filter(|l| l["decision"] == "refuse")
        .map(|l| l["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(refused.len() >= 15, "{refused:?}");
    assert!(!refused.contains(&"PolicyDeny".to_string()));
}

#[test]
fn a_measurement_the_references_do_not_know_is_denied_by_policy_at_the_resource() {
    let kit = Kit::new();
    let s = kit.service();
    let mut cvm = kit.cvm();
    cvm.vm.measurement = [9; 48];
    let (nonce, token) = auth(&s);
    let jwk = TeeKeyPair::generate(Curve::P256).unwrap().public_jwk();
    // The evidence verified and is bound: attest answers with the EAR that says why...
    let (ear, attested) =
        attest(&s, &token, &attestation(&cvm, &nonce, &jwk, &nonce, &jwk)).unwrap();
    assert!(ear.contains('.'));
    // ...and the resource is refused by policy.
    let e = s
        .kbs_resource(Some(&attested), RESOURCE, now(), None)
        .unwrap_err();
    assert!(
        matches!(&e, KbsError::PolicyDeny { status } if status == "contraindicated"),
        "{e}"
    );
    assert_eq!(kind(&e), ("PolicyDeny", 403));
    let lines = kit.audit_lines();
    assert_eq!(lines[0]["decision"], "denied");
    assert_eq!(lines[1]["kind"], "PolicyDeny");
}

#[test]
fn init_data_must_match_the_host_data_and_becomes_claims() {
    let kit = Kit::new();
    let s = kit.service();
    let doc = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"aa.toml\" = \"url = 'x'\"\n";
    let id = coco_core::initdata::InitData::parse(doc.as_bytes()).unwrap();
    let mut cvm = kit.cvm();
    cvm.vm.host_data = id
        .field_value(coco_core::initdata::Field::SnpHostData)
        .try_into()
        .unwrap();
    let jwk = TeeKeyPair::generate(Curve::P256).unwrap().public_jwk();
    let with_init = |nonce: &str, body: &str| -> Vec<u8> {
        let mut v: Value =
            serde_json::from_slice(&attestation(&cvm, nonce, &jwk, nonce, &jwk)).unwrap();
        v["init-data"] = json!({"format": "toml", "body": body});
        v.to_string().into_bytes()
    };
    let (nonce, token) = auth(&s);
    let (ear, _) = attest(&s, &token, &with_init(&nonce, doc)).unwrap();
    let payload: Value =
        serde_json::from_slice(&B64U.decode(ear.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let annotated = &payload["submods"]["cpu0"]["ear.veraison.annotated-evidence"];
    assert_eq!(annotated["init_data"], hex::encode(id.digest()));
    assert_eq!(annotated["init_data_claims"]["aa.toml"], "url = 'x'");
    // Another document than the one measured: refused, naming the claim.
    let (nonce, token) = auth(&s);
    let e = attest(&s, &token, &with_init(&nonce, &doc.replace('x', "y"))).unwrap_err();
    let KbsError::Attestation(ReleaseError::Appraisal { findings, .. }) = &e else {
        panic!("{e}")
    };
    assert_eq!(findings[0].claim, "cpu0.init_data");
}

/// A service with the reference values of `refs` (REFS.toml) and `policy`, holding the kit's
/// key.
fn service_over(kit: &Kit, refs: &str, policy: coco_core::policy::Policy) -> KeyReleaseService {
    let keys = MemoryKeyStore::default();
    keys.put(RESOURCE, &kit.dek);
    KeyReleaseService::new(
        Box::new(keys),
        coco_core::keys::SigningKey::generate_p384().unwrap(),
        coco_release::ServiceConfig {
            references: coco_core::appraise::ReferenceValues::from_refs_toml(refs).unwrap(),
            policy,
            sim_root: None,
            challenge_ttl_secs: 60,
        },
    )
    .unwrap()
    .with_audit(Box::new(Audit(kit.audit.clone())))
}

/// A service whose reference values bound the sample attester's svn, with `policy`.
fn sample_service(kit: &Kit, policy: coco_core::policy::Policy) -> KeyReleaseService {
    service_over(kit, "id = \"rehearsal\"\n[sample]\nsvn_min = 1\n", policy)
}

/// The CoCo guest clients' sample attester: a rehearsal without TEE hardware, accepted only
/// where simulation is allowed, bound like any evidence, bounded by `[sample] svn_min`, and
/// simulated in the EAR.
#[test]
fn the_sample_attester_rehearses_a_deployment_only_where_simulation_is_allowed() {
    use coco_release::kbs::client::SampleAttester;
    let kit = Kit::new();
    let server = Server::start(
        Arc::new(sample_service(&kit, simkit::policy())),
        "127.0.0.1:0".parse().unwrap(),
        Limits::default(),
    )
    .unwrap();
    let c = KbsClient::new(&server.url(), &ClientTls::default()).unwrap();
    let got = c
        .get_resource(&SampleAttester { svn: 1 }, "sample", RESOURCE)
        .unwrap();
    assert_eq!(&got.resource[..], kit.dek.as_bytes());
    let payload: Value =
        serde_json::from_slice(&B64U.decode(got.token.split('.').nth(1).unwrap()).unwrap())
            .unwrap();
    assert_eq!(payload["submods"]["cpu0"]["ear_status"], "warning");
    assert_eq!(payload["submods"]["cpu0"]["coco_simulated"], true);
    // Below the reference svn: denied by policy.
    let e = c
        .get_resource(&SampleAttester { svn: 0 }, "sample", RESOURCE)
        .unwrap_err();
    assert!(
        matches!(&e, ReleaseError::Refused { kind, .. } if kind == "PolicyDeny"),
        "{e}"
    );
    // Not bound to the session: refused at attest.
    let s = sample_service(&kit, simkit::policy());
    let (nonce, token) = {
        let (c, t) = s
            .kbs_auth(
                br#"{"version":"0.4.0","tee":"sample","extra-params":""}"#,
                now(),
                None,
            )
            .unwrap();
        (c.nonce, t)
    };
    let jwk = TeeKeyPair::generate(Curve::P256).unwrap().public_jwk();
    let body = json!({
        "runtime-data": {"nonce": nonce, "tee-pubkey": jwk},
        "tee-evidence": {"primary_evidence": {"svn": "1", "report_data": "AAAA"}, "additional_evidence": ""},
    });
    let e = attest(&s, &token, body.to_string().as_bytes()).unwrap_err();
    assert_eq!(kind(&e), ("AttestationError", 401));
    // A policy without simulation never accepts it, whatever it says.
    let strict = sample_service(
        &kit,
        coco_core::policy::Policy {
            require_revocation_check: coco_core::policy::Revocation::NONE,
            ..Default::default()
        },
    );
    let server = Server::start(
        Arc::new(strict),
        "127.0.0.1:0".parse().unwrap(),
        Limits::default(),
    )
    .unwrap();
    let c = KbsClient::new(&server.url(), &ClientTls::default()).unwrap();
    let e = c
        .get_resource(&SampleAttester { svn: 1 }, "sample", RESOURCE)
        .unwrap_err();
    assert!(
        matches!(&e, ReleaseError::Refused { kind, .. } if kind == "AttestationError"),
        "{e}"
    );
}

/// A service over `refs` (REFS.toml) with revocation waived (the vectors carry no CRLs).
fn real_service(refs: &str) -> KeyReleaseService {
    let policy = coco_core::policy::Policy {
        require_revocation_check: coco_core::policy::Revocation::NONE,
        ..Default::default()
    };
    service_over(&Kit::new(), refs, policy)
}

/// Attests `primary` (tee `tee`) at `at` and returns the error: real evidence answers its own
/// session's nonce, never this one's, so the furthest it can get is a verified report whose
/// binding is wrong.
fn attest_real(s: &KeyReleaseService, tee: &str, primary: Value, at: SystemTime) -> KbsError {
    let req = json!({"version": "0.4.0", "tee": tee, "extra-params": ""});
    let (c, token) = s.kbs_auth(req.to_string().as_bytes(), at, None).unwrap();
    let jwk = TeeKeyPair::generate(Curve::P256).unwrap().public_jwk();
    let body = json!({
        "runtime-data": {"nonce": c.nonce, "tee-pubkey": jwk},
        "tee-evidence": {"primary_evidence": primary, "additional_evidence": ""},
    });
    s.kbs_attest(
        Some(&token),
        body.to_string().as_bytes(),
        at,
        None,
        &Cancel::default(),
    )
    .unwrap_err()
}

fn at(rfc3339: &str) -> SystemTime {
    coco_evidence::time::parse_rfc3339(rfc3339).unwrap()
}

/// The real SNP evidence a Trustee client sent (`vectors/kbs/trustee-snp-e2e`), through the
/// KBS endpoint: the JSON report is rebuilt and verifies (VCEK from its cert_chain, the Genoa ASK
/// added as a client whose host provisions it sends it), and only its binding to this session
/// fails, naming the report data it carries.
#[test]
fn real_trustee_snp_evidence_verifies_through_the_kbs_endpoint() {
    let v = coco_core::vectors::dir();
    let mut ev: Value = serde_json::from_slice(
        &std::fs::read(v.join("kbs/trustee-snp-e2e/evidence.json")).unwrap(),
    )
    .unwrap();
    let s = real_service(
        "id = \"genoa\"\n[snp]\nproduct = \"genoa\"\nmeasurement = [\"6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b315506e73e\"]\n",
    );
    let when = at("2025-06-01T00:00:00Z");
    // Without the ASK the chain cannot be built: a verification error, before any binding.
    let e = attest_real(&s, "snp", ev.clone(), when);
    assert!(
        matches!(
            &e,
            KbsError::Attestation(ReleaseError::Evidence { index: 0, .. })
        ),
        "{e}"
    );
    let ask = coco_evidence::x509::load_certs(&v.join("roots/amd/ask-genoa.pem")).unwrap();
    ev["cert_chain"]
        .as_array_mut()
        .unwrap()
        .push(json!({"cert_type": "ASK", "data": ask[0].der()}));
    let e = attest_real(&s, "snp", ev.clone(), when);
    let KbsError::Attestation(ReleaseError::Appraisal { findings, .. }) = &e else {
        panic!("{e}")
    };
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].claim, "cpu0.report_data");
    assert_eq!(
        findings[0].found,
        "7e7320889600c7ac133aea7b896c51f41026002982292a7369559796999c1bf929eef3ff23c46e858f0b1982f9a92b17c51b578d958cde6b0c92978f150cf9b0"
    );
    // One changed value of the JSON report and it no longer verifies.
    ev["attestation_report"]["guest_svn"] = 1.into();
    let e = attest_real(&s, "snp", ev, when);
    assert!(
        matches!(
            &e,
            KbsError::Attestation(ReleaseError::Evidence { index: 0, .. })
        ),
        "{e}"
    );
}

/// A real TDX quote through the KBS endpoint: verified against the collateral the service
/// holds (KBS clients send none); without it, a typed refusal naming the setting.
#[test]
fn real_tdx_quote_verifies_through_the_kbs_endpoint_with_the_services_collateral() {
    use base64::engine::general_purpose::STANDARD as B64;
    let sample = coco_core::vectors::dir().join("tdx/v4-dcap-qvl-uptodate");
    let quote = B64.encode(std::fs::read(sample.join("quote.bin")).unwrap());
    let q = coco_evidence::tdx::Quote::parse(&std::fs::read(sample.join("quote.bin")).unwrap())
        .unwrap();
    let refs = format!(
        "id = \"td\"\n[tdx]\nmrtd = [\"{}\"]\n",
        hex::encode(q.body.mr_td)
    );
    let when = at("2025-07-01T00:00:00Z");
    let e = attest_real(&real_service(&refs), "tdx", json!({"quote": quote}), when);
    assert!(
        matches!(
            &e,
            KbsError::Attestation(ReleaseError::Usage {
                option: "tdx-collateral",
                ..
            })
        ),
        "{e}"
    );
    let raw = coco_evidence::tdx::RawCollateral::from_dir(&sample.join("collateral")).unwrap();
    let s = real_service(&refs).with_tdx_collateral(raw);
    let e = attest_real(
        &s,
        "tdx",
        json!({"quote": quote, "cc_eventlog": null}),
        when,
    );
    let KbsError::Attestation(ReleaseError::Appraisal { findings, .. }) = &e else {
        panic!("{e}")
    };
    let claims: Vec<&str> = findings.iter().map(|f| f.claim.as_str()).collect();
    assert_eq!(claims, ["cpu0.report_data"], "{findings:?}");
}

/// Passport mode: the attestation token as `Authorization: Bearer` instead of the cookie
/// releases what the session would, to the TEE key it carries; a forged, foreign, expired or
/// denying token does not.
#[test]
fn the_attestation_token_works_as_a_bearer_credential() {
    let kit = Kit::new();
    let s = Arc::new(kit.service());
    let pair = TeeKeyPair::generate(Curve::P256).unwrap();
    let jwk = pair.public_jwk();
    let (nonce, token) = auth(&s);
    let (ear, _) = attest(
        &s,
        &token,
        &attestation(&kit.cvm(), &nonce, &jwk, &nonce, &jwk),
    )
    .unwrap();
    let jwe = s.kbs_resource_bearer(&ear, RESOURCE, now(), None).unwrap();
    assert_eq!(&pair.decrypt(&jwe).unwrap()[..], kit.dek.as_bytes());
    // Over HTTP, without a cookie.
    let server =
        Server::start(s.clone(), "127.0.0.1:0".parse().unwrap(), Limits::default()).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}/kbs/v0/resource/{RESOURCE}", server.url());
    let mut r = agent
        .get(&url)
        .header("authorization", format!("Bearer {ear}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.body_mut().read_json().unwrap();
    assert_eq!(&pair.decrypt(&body).unwrap()[..], kit.dek.as_bytes());
    // Forged (a changed signature), foreign (another service's), expired.
    let mut forged = ear.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        kind(
            &s.kbs_resource_bearer(&forged, RESOURCE, now(), None)
                .unwrap_err()
        ),
        ("InvalidSession", 401)
    );
    let other = kit.service();
    assert_eq!(
        kind(
            &other
                .kbs_resource_bearer(&ear, RESOURCE, now(), None)
                .unwrap_err()
        ),
        ("InvalidSession", 401)
    );
    let later = now() + Duration::from_secs(coco_release::kbs::broker::ATTESTED_SESSION_SECS + 1);
    assert_eq!(
        kind(
            &s.kbs_resource_bearer(&ear, RESOURCE, later, None)
                .unwrap_err()
        ),
        ("InvalidSession", 401)
    );
    // The token of a denied appraisal is refused by policy.
    let mut bad = kit.cvm();
    bad.vm.measurement = [9; 48];
    let (nonce, token) = auth(&s);
    let (denied, _) = attest(&s, &token, &attestation(&bad, &nonce, &jwk, &nonce, &jwk)).unwrap();
    assert_eq!(
        kind(
            &s.kbs_resource_bearer(&denied, RESOURCE, now(), None)
                .unwrap_err()
        ),
        ("PolicyDeny", 403)
    );
}

/// The session and the EAR keep only the TEE key's public members: extra members a client adds
/// (here 6 KiB of them) neither grow its cookie nor reach the token.
#[test]
fn only_the_tee_keys_public_members_are_kept() {
    let kit = Kit::new();
    let s = kit.service();
    let pair = TeeKeyPair::generate(Curve::P256).unwrap();
    let mut jwk = pair.public_jwk();
    jwk["x5c"] = json!(["A".repeat(6 * 1024)]);
    let (nonce, token) = auth(&s);
    let (ear, attested) = attest(
        &s,
        &token,
        &attestation(&kit.cvm(), &nonce, &jwk, &nonce, &jwk),
    )
    .unwrap();
    assert!(attested.len() < 2048, "{} bytes", attested.len());
    let payload = B64U.decode(ear.split('.').nth(1).unwrap()).unwrap();
    let payload = String::from_utf8(payload).unwrap();
    assert!(
        payload.contains("tee-pubkey") && !payload.contains("x5c"),
        "{payload}"
    );
    let jwe = s
        .kbs_resource(Some(&attested), RESOURCE, now(), None)
        .unwrap();
    assert_eq!(&pair.decrypt(&jwe).unwrap()[..], kit.dek.as_bytes());
}
