//! OCSP (RFC 6960) under throwaway roots generated here: a chain shaped like NVIDIA's device
//! chain (leaf, device identity CA, provisioner CA, root) and a delegated responder, with
//! responses signed here (good, revoked, held, wrong nonce, stale, wrong signer, ...); then the
//! same checks against responses made by OpenSSL's responder (`openssl ocsp -index`), code
//! nobody here wrote; and the rule that a real GPU report is revocation-checked only with good
//! responses under NVIDIA's root.

mod common;

use std::time::{Duration, SystemTime};

use coco_evidence::EvidenceError;
use coco_evidence::ocsp::{
    self, CertIdHash, CertStatus, CheckOptions, OcspProblem, OcspResponse, OcspResponseDer,
    ResponseStatus, RevokedInfo,
};
use coco_evidence::sim::ocsp::{SimAnswer, SimOcspPki, SimSigner};
use coco_evidence::x509::{Cert, LinkCache};
use der::asn1::{GeneralizedTime, Null, OctetString};
use der::{Decode, Encode};
use x509_cert::ext::pkix::CrlReason;

fn gt(t: SystemTime) -> GeneralizedTime {
    GeneralizedTime::from_system_time(t).unwrap()
}

fn opts(nonce: Option<&[u8]>) -> CheckOptions<'_> {
    let mut o = CheckOptions::at(SystemTime::now());
    o.nonce = nonce;
    o
}

/// `answer` signed by `signer`, carrying its own certificate (or none).
fn respond(signer: &SimSigner, answer: &SimAnswer, with_cert: bool) -> Vec<u8> {
    let certs: Vec<&Cert> = if with_cert {
        vec![&signer.cert]
    } else {
        vec![]
    };
    signer.respond(answer, &certs).unwrap()
}

/// Both CAs between the leaf and the root, answered by the responder.
fn both_good(pki: &SimOcspPki, nonce: Option<&[u8]>) -> Vec<u8> {
    respond(
        &pki.responder,
        &SimAnswer::good(&pki.cas(), nonce).unwrap(),
        true,
    )
}

fn check_all(
    pki: &SimOcspPki,
    der: &[u8],
    o: &CheckOptions<'_>,
) -> Result<Vec<ocsp::CertOcsp>, EvidenceError> {
    let resp = OcspResponse::from_der(der)?;
    ocsp::check_chain(&pki.chain, 1..3, &[resp], o)
}

#[test]
fn good_responses_for_every_ca_of_the_chain_pass() {
    let pki = SimOcspPki::generate().unwrap();
    let nonce = [7u8; 32];
    let got = check_all(&pki, &both_good(&pki, Some(&nonce)), &opts(Some(&nonce))).unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|g| g.status == "good" && g.nonce_matched));
    assert_eq!(got[0].cert, "Sim GSP BROM");
    assert_eq!(got[1].cert, "Sim Provisioner ICA");
    // Read back later (from a collateral directory), without the nonce.
    check_all(&pki, &both_good(&pki, Some(&nonce)), &opts(None)).unwrap();
}

#[test]
fn a_response_signed_by_the_issuer_itself_passes() {
    let pki = SimOcspPki::generate().unwrap();
    let c = &pki.chain;
    // The provisioner CA answers for the device identity certificate it issued.
    let der = respond(
        &pki.issuer,
        &SimAnswer::good(&[(&c[1], &c[2])], None).unwrap(),
        false,
    );
    let resp = OcspResponse::from_der(&der).unwrap();
    let got = ocsp::check(&resp, &c[1], &c[2], pki.root(), &opts(None)).unwrap();
    assert_eq!(got.status, "good");
}

#[test]
fn revoked_and_held_certificates() {
    let pki = SimOcspPki::generate().unwrap();
    let c = &pki.chain;
    for (reason, allow_hold, ok) in [
        (None, false, false),
        (Some(CrlReason::KeyCompromise), true, false),
        (Some(CrlReason::CertificateHold), false, false),
        (Some(CrlReason::CertificateHold), true, true),
    ] {
        let mut a = SimAnswer::good(&pki.cas(), None).unwrap();
        a.entries[1].1 = CertStatus::Revoked(RevokedInfo {
            revocation_time: gt(SystemTime::now() - Duration::from_secs(3600)),
            revocation_reason: reason,
        });
        let der = respond(&pki.responder, &a, true);
        let mut o = opts(None);
        o.allow_hold = allow_hold;
        match check_all(&pki, &der, &o) {
            Ok(got) => {
                assert!(ok, "{reason:?} accepted");
                assert!(got[1].status.contains("hold"));
            }
            Err(EvidenceError::Revoked { cert, serial }) => {
                assert!(!ok, "{reason:?} refused");
                assert_eq!(cert, "Sim Provisioner ICA");
                assert_eq!(serial, c[2].serial_hex());
            }
            Err(e) => panic!("{reason:?}: {e}"),
        }
    }
}

#[test]
fn an_unknown_status_is_refused() {
    let pki = SimOcspPki::generate().unwrap();
    let mut a = SimAnswer::good(&pki.cas(), None).unwrap();
    a.entries[0].1 = CertStatus::Unknown(Null);
    let der = respond(&pki.responder, &a, true);
    let e = check_all(&pki, &der, &opts(None)).unwrap_err();
    assert!(
        matches!(&e, EvidenceError::Ocsp { problem: OcspProblem::Unknown, cert } if cert.starts_with("Sim GSP BROM")),
        "{e}"
    );
}

#[test]
fn the_nonce_must_be_the_one_sent() {
    let pki = SimOcspPki::generate().unwrap();
    let sent = [1u8; 32];
    let e = check_all(&pki, &both_good(&pki, Some(&[2u8; 32])), &opts(Some(&sent))).unwrap_err();
    assert!(
        matches!(&e, EvidenceError::Ocsp { problem: OcspProblem::Nonce { expected, found }, .. }
        if *expected == hex::encode(sent) && *found == hex::encode([2u8; 32])),
        "{e}"
    );
    let e = check_all(&pki, &both_good(&pki, None), &opts(Some(&sent))).unwrap_err();
    assert!(
        matches!(&e, EvidenceError::Ocsp { problem: OcspProblem::Nonce { found, .. }, .. } if found == "none"),
        "{e}"
    );
}

#[test]
fn stale_and_future_responses_are_refused() {
    let pki = SimOcspPki::generate().unwrap();
    let now = SystemTime::now();
    let mut stale = SimAnswer::good(&pki.cas(), None).unwrap();
    stale.this_update = now - Duration::from_secs(7200);
    stale.next_update = Some(now - Duration::from_secs(3600));
    let mut future = SimAnswer::good(&pki.cas(), None).unwrap();
    future.this_update = now + Duration::from_secs(3600);
    future.next_update = Some(now + Duration::from_secs(7200));
    let mut old_no_next = SimAnswer::good(&pki.cas(), None).unwrap();
    old_no_next.this_update = now - Duration::from_secs(ocsp::DEFAULT_MAX_AGE + 60);
    old_no_next.next_update = None;
    for a in [stale, future, old_no_next] {
        let der = respond(&pki.responder, &a, true);
        let e = check_all(&pki, &der, &opts(None)).unwrap_err();
        assert!(
            matches!(&e, EvidenceError::Expired { cert, .. } if cert.starts_with("OCSP response for Sim GSP BROM")),
            "{e}"
        );
    }
    // Without nextUpdate, a recent response counts for the default maximum age.
    let mut recent = SimAnswer::good(&pki.cas(), None).unwrap();
    recent.next_update = None;
    let der = respond(&pki.responder, &recent, true);
    check_all(&pki, &der, &opts(None)).unwrap();
}

#[test]
fn wrong_signers_are_refused() {
    let pki = SimOcspPki::generate().unwrap();
    let a = SimAnswer::good(&pki.cas(), None).unwrap();
    // A responder under another root.
    let der = respond(&pki.stranger, &a, true);
    let e = check_all(&pki, &der, &opts(None)).unwrap_err();
    assert_eq!(e.kind(), "chain", "{e}");
    // A certificate under the right root, but not a responder.
    let der = respond(&pki.plain, &a, true);
    let e = check_all(&pki, &der, &opts(None)).unwrap_err();
    assert!(
        matches!(&e, EvidenceError::Ocsp { problem: OcspProblem::ResponderNotAuthorized(n), .. } if n == "Sim Not A Responder"),
        "{e}"
    );
    // The responder's certificate, another key.
    let der = pki.stranger.respond(&a, &[&pki.responder.cert]).unwrap();
    let e = check_all(&pki, &der, &opts(None)).unwrap_err();
    assert_eq!(e.kind(), "signature", "{e}");
    // No certificate in the response: only the issuer may sign, and the responder is not it.
    let der = respond(&pki.responder, &a, false);
    let e = check_all(&pki, &der, &opts(None)).unwrap_err();
    assert!(matches!(e.kind(), "ocsp" | "signature"), "{e}");
}

#[test]
fn every_signed_bit_counts() {
    let pki = SimOcspPki::generate().unwrap();
    let der = both_good(&pki, Some(&[9u8; 16]));
    let resp = OcspResponse::from_der(&der).unwrap();
    let tbs_len = resp.basic().tbs_response_data.to_der().unwrap().len();
    // The tbsResponseData lies inside the response; flip each of its bytes in turn.
    let start = der
        .windows(tbs_len)
        .position(|w| w == resp.basic().tbs_response_data.to_der().unwrap().as_slice())
        .unwrap();
    let mut accepted = Vec::new();
    for i in start..start + tbs_len {
        let mut bad = der.clone();
        bad[i] ^= 0x01;
        if check_all(&pki, &bad, &opts(Some(&[9u8; 16]))).is_ok() {
            accepted.push(i);
        }
    }
    assert!(
        accepted.is_empty(),
        "flipped bytes accepted at {accepted:?}"
    );
}

/// A service reuses a fetched answer on every release: with a signature cache the response's
/// signature is verified once (and the responder's chain), while the certificate named, the
/// time, the nonce and the status are checked every time, and any other signed bytes are
/// verified afresh.
#[test]
fn a_cached_response_is_verified_once_and_still_checked_every_time() {
    let pki = SimOcspPki::generate().unwrap();
    const NONCE: &[u8] = &[3u8; 32];
    let cache = LinkCache::new();
    let der = both_good(&pki, Some(NONCE));
    let cached = |nonce: Option<&'static [u8]>, at: SystemTime| {
        let mut o = CheckOptions::at(at);
        o.nonce = nonce;
        o.cache = Some(&cache);
        o
    };
    check_all(&pki, &der, &cached(Some(NONCE), SystemTime::now())).unwrap();
    // The responder's link to the root and the response's signature (once for both CAs).
    assert_eq!(cache.len(), 2);
    check_all(&pki, &der, &cached(Some(NONCE), SystemTime::now())).unwrap();
    assert_eq!(cache.len(), 2);

    // Past its window, or with another nonce: refused although its signature is remembered.
    let later = SystemTime::now() + Duration::from_secs(2 * 86400);
    let e = check_all(&pki, &der, &cached(Some(NONCE), later)).unwrap_err();
    assert_eq!(e.kind(), "expired", "{e}");
    let e = check_all(&pki, &der, &cached(Some(&[4u8; 32]), SystemTime::now())).unwrap_err();
    assert!(
        matches!(
            &e,
            EvidenceError::Ocsp {
                problem: OcspProblem::Nonce { .. },
                ..
            }
        ),
        "{e}"
    );
    // Not the chain it was asked about: another PKI's certificates are not covered.
    let other = SimOcspPki::generate().unwrap();
    let resp = OcspResponse::from_der(&der).unwrap();
    let e = ocsp::check_chain(
        &other.chain,
        1..3,
        &[resp],
        &cached(None, SystemTime::now()),
    )
    .unwrap_err();
    assert!(
        matches!(
            &e,
            EvidenceError::Ocsp {
                problem: OcspProblem::NotCovered,
                ..
            }
        ),
        "{e}"
    );

    // With the cache warm, every flipped byte of the signed data is still refused.
    let resp = OcspResponse::from_der(&der).unwrap();
    let tbs = resp.basic().tbs_response_data.to_der().unwrap();
    let start = der
        .windows(tbs.len())
        .position(|w| w == tbs.as_slice())
        .unwrap();
    let mut accepted = Vec::new();
    for i in start..start + tbs.len() {
        let mut bad = der.clone();
        bad[i] ^= 0x01;
        if check_all(&pki, &bad, &cached(Some(NONCE), SystemTime::now())).is_ok() {
            accepted.push(i);
        }
    }
    assert!(
        accepted.is_empty(),
        "flipped bytes accepted at {accepted:?}"
    );
    // A response whose signature does not verify leaves nothing behind.
    let forged = pki
        .stranger
        .respond(
            &SimAnswer::good(&pki.cas(), None).unwrap(),
            &[&pki.responder.cert],
        )
        .unwrap();
    let e = check_all(&pki, &forged, &cached(None, SystemTime::now())).unwrap_err();
    assert_eq!(e.kind(), "signature", "{e}");
    assert_eq!(cache.len(), 2);
}

#[test]
fn uncovered_certificates_and_error_statuses() {
    let pki = SimOcspPki::generate().unwrap();
    let c = &pki.chain;
    // Only the device identity is answered for.
    let der = respond(
        &pki.responder,
        &SimAnswer::good(&[(&c[1], &c[2])], None).unwrap(),
        true,
    );
    let e = check_all(&pki, &der, &opts(None)).unwrap_err();
    assert!(
        matches!(&e, EvidenceError::Ocsp { problem: OcspProblem::NotCovered, cert } if cert.starts_with("Sim Provisioner ICA")),
        "{e}"
    );
    // The responder said tryLater.
    let later = OcspResponseDer {
        response_status: ResponseStatus::TryLater,
        response_bytes: None,
    };
    let e = OcspResponse::from_der(&later.to_der().unwrap()).unwrap_err();
    assert!(
        matches!(&e, EvidenceError::Ocsp { problem: OcspProblem::Status(s), .. } if s == "TryLater"),
        "{e}"
    );
    // Not a response at all; every truncation of a real one.
    for bad in [&b"not der"[..], &der[..der.len() - 1], &der[..10]] {
        let e = OcspResponse::from_der(bad).unwrap_err();
        assert!(
            matches!(
                &e,
                EvidenceError::Ocsp {
                    problem: OcspProblem::Malformed(_),
                    ..
                }
            ),
            "{e}"
        );
    }
}

#[test]
fn requests_name_the_certificate_and_carry_the_nonce() {
    let pki = SimOcspPki::generate().unwrap();
    let c = &pki.chain;
    let der = ocsp::request(&c[1], &c[2], Some(&[5u8; 32])).unwrap();
    let req = ocsp::OcspRequestDer::from_der(&der).unwrap();
    let id = &req.tbs_request.request_list[0].req_cert;
    assert_eq!(
        *id,
        ocsp::cert_id(&c[1], &c[2], CertIdHash::Sha384).unwrap()
    );
    let ext = &req.tbs_request.request_extensions.as_ref().unwrap()[0];
    assert_eq!(ext.extn_id, ocsp::OID_OCSP_NONCE);
    assert_eq!(
        OctetString::from_der(ext.extn_value.as_bytes())
            .unwrap()
            .as_bytes(),
        [5u8; 32]
    );
}

// --- OpenSSL's responder ---------------------------------------------------------------

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl on PATH (.ci/run installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A root, a CA under it and a responder made by `openssl`; the CA's status comes from an
/// index file in `openssl ca` format; `openssl ocsp` answers coco's request.
#[test]
fn responses_of_openssl_verify_and_say_what_its_index_says() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("ext.cnf"),
        "[req]\ndistinguished_name=dn\nx509_extensions=ca\nprompt=no\n[dn]\nCN=OpenSSL Test Root\n\
         [ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
         [responder]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n",
    )
    .unwrap();
    let p384 = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-nodes",
    ];
    openssl(
        d,
        &[
            &["req", "-x509"][..],
            &p384,
            &[
                "-keyout", "root.key", "-out", "root.pem", "-days", "30", "-sha384", "-config",
                "ext.cnf",
            ],
        ]
        .concat(),
    );
    for (name, ext, serial) in [("ica", "ca", "0A"), ("responder", "responder", "0B")] {
        openssl(
            d,
            &[
                &["req", "-new"][..],
                &p384,
                &[
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                    "-subj",
                    &format!("/CN=OpenSSL Test {name}"),
                    "-config",
                    "ext.cnf",
                ],
            ]
            .concat(),
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "root.pem",
                "-CAkey",
                "root.key",
                "-set_serial",
                &format!("0x{serial}"),
                "-days",
                "30",
                "-sha384",
                "-extfile",
                "ext.cnf",
                "-extensions",
                ext,
                "-out",
                &format!("{name}.pem"),
            ],
        );
    }
    let load = |f: &str| {
        coco_evidence::x509::load_certs(&d.join(f))
            .unwrap()
            .remove(0)
    };
    let (root, ica, responder) = (load("root.pem"), load("ica.pem"), load("responder.pem"));
    let chain = vec![responder.clone(), ica.clone(), root.clone()];
    let nonce = [0x42u8; 32];
    std::fs::write(
        d.join("req.der"),
        ocsp::request(&ica, &root, Some(&nonce)).unwrap(),
    )
    .unwrap();
    for (state, expect_good) in [("V", true), ("R", false)] {
        let revoked = if state == "R" {
            "250101000000Z,keyCompromise"
        } else {
            ""
        };
        std::fs::write(
            d.join("index.txt"),
            format!("{state}\t351231000000Z\t{revoked}\t0A\tunknown\t/CN=OpenSSL Test ica\n"),
        )
        .unwrap();
        openssl(
            d,
            &[
                "ocsp",
                "-index",
                "index.txt",
                "-CA",
                "root.pem",
                "-rsigner",
                "responder.pem",
                "-rkey",
                "responder.key",
                "-rmd",
                "sha384",
                "-reqin",
                "req.der",
                "-respout",
                "resp.der",
                "-ndays",
                "1",
            ],
        );
        let resp = OcspResponse::from_der(&std::fs::read(d.join("resp.der")).unwrap()).unwrap();
        // The CA (index 1 of responder ← ica ← root) against OpenSSL's answer.
        let got = ocsp::check_chain(
            &chain,
            1..2,
            std::slice::from_ref(&resp),
            &opts(Some(&nonce)),
        );
        match (got, expect_good) {
            (Ok(g), true) => assert_eq!(g[0].status, "good"),
            (Err(EvidenceError::Revoked { serial, .. }), false) => {
                assert_eq!(serial, ica.serial_hex())
            }
            (other, _) => panic!("index {state}: {other:?}"),
        }
        // Another nonce than the one sent is refused.
        let e = ocsp::check(&resp, &ica, &root, &root, &opts(Some(&[0u8; 32]))).unwrap_err();
        assert!(
            matches!(
                e,
                EvidenceError::Ocsp {
                    problem: OcspProblem::Nonce { .. },
                    ..
                }
            ),
            "{e}"
        );
    }
}

// --- NVIDIA --------------------------------------------------------------------------------

/// A real GPU report verifies without OCSP, but says its chain was not checked for revocation,
/// which the strict default policy refuses; responses made under any root but NVIDIA's are
/// refused.
#[test]
fn a_real_gpu_is_revocation_checked_only_under_nvidias_root() {
    use coco_evidence::nvidia;
    let dir = common::vectors().join("nvidia/hopper-h100-550.90.07");
    let report = std::fs::read(dir.join("attestation_report.bin")).unwrap();
    let certs = common::sample_certs(&dir);
    let at = SystemTime::now();
    let opts = nvidia::VerifyOptions::at(at).with_certs(&certs);
    let gpu = nvidia::verify(
        nvidia::Report::parse_with(&report, opts.parse).unwrap(),
        &opts,
    )
    .unwrap();
    assert!(!gpu.revocation_checked());
    let claims = nvidia::claims::claims(&gpu);
    assert_eq!(claims["revocation_checked"], false);
    let attester = coco_evidence::attester::nvidia("gpu0", &gpu);
    assert!(!attester.claims().revocation_checked());
    let policy = coco_core::policy::Policy::default();
    assert!(
        policy
            .require_revocation_check
            .requires(coco_core::appraise::Platform::Nvidia)
    );

    // Good responses for the real chain's CAs, signed by a throwaway responder.
    let chain = &gpu.chain;
    let fake =
        SimSigner::forged("CN=NVIDIA OCSP Responder", "CN=NVIDIA Device Identity CA").unwrap();
    let entries: Vec<(&Cert, &Cert)> =
        ocsp::links(chain, nvidia::verify::ocsp_range(chain.len())).collect();
    let der = respond(&fake, &SimAnswer::good(&entries, None).unwrap(), true);
    let responses = [OcspResponse::from_der(&der).unwrap()];
    let with = nvidia::VerifyOptions::at(at)
        .with_certs(&certs)
        .with_ocsp(&responses);
    let e = nvidia::verify(
        nvidia::Report::parse_with(&report, with.parse).unwrap(),
        &with,
    )
    .unwrap_err();
    assert!(matches!(e.kind(), "chain" | "signature"), "{e}");
}
