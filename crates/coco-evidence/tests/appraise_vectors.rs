//! The real SNP and TDX vectors, appraised against CoRIMs built (with `corim build`) from their
//! expected values, are affirming; changing any single reference value, or a debug TD/VM,
//! flips the result to contraindicated with that reason.

mod common;

use std::path::Path;

use coco_core::appraise::{Attester, Context, ReferenceValues, appraise};
use coco_core::corim::cose::SignedCorim;
use coco_core::corim::{Corim, DecodeOptions, cose};
use coco_core::ear::Status;
use coco_core::keys::SigningKey;
use coco_core::policy::Policy;
use coco_core::profile::build;
use coco_evidence::tdx::{self, RawCollateral, VerifyOptions};
use coco_evidence::{attester, snp};
use common::*;
use serde_json::Value;

fn refs(toml: &str) -> ReferenceValues {
    let bytes = build::build(toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    ReferenceValues::from_corims(&[Corim::decode(&bytes, &DecodeOptions::default()).unwrap()])
        .unwrap()
}

fn ctx() -> Context {
    Context {
        now: 1_751_328_000,
        nonce: None,
    }
}

fn tdx_attester(sample: &Path) -> Attester {
    let exp = expected(sample);
    let at = time(
        exp["collateral_evaluation"]["suggested_as_of"]
            .as_str()
            .unwrap(),
    );
    let mut opts = VerifyOptions::at(at);
    let dir = sample.join("collateral");
    if !dir.join("pck_crl.der").exists() {
        opts = opts.without_revocation_check();
    }
    let c = tdx::verify_collateral(&RawCollateral::from_dir(&dir).unwrap(), &opts).unwrap();
    let q = std::fs::read(sample.join("quote.bin")).unwrap();
    attester::tdx("cpu0", &tdx_verify(&q, Some(&c), &opts).unwrap())
}

/// REFS.toml lines for a TDX sample's own values.
fn tdx_refs(claims: &Value) -> Vec<(String, String)> {
    let h = |k: &str| claims[k].as_str().unwrap().to_string();
    vec![
        ("mrtd".into(), format!("[\"{}\"]", h("mr_td"))),
        ("rtmr0".into(), format!("[\"{}\"]", h("rtmr0"))),
        ("rtmr1".into(), format!("[\"{}\"]", h("rtmr1"))),
        ("rtmr2".into(), format!("[\"{}\"]", h("rtmr2"))),
        ("rtmr3".into(), format!("[\"{}\"]", h("rtmr3"))),
        ("mrseam".into(), format!("[\"{}\"]", h("mr_seam"))),
        ("xfam".into(), format!("\"{}\"", h("xfam"))),
        // DEBUG (bit 0) must be 0, SEPT_VE_DISABLE (bit 28) as the sample has it.
        (
            "td_attributes".into(),
            format!("{{ value = \"{}\", mask = \"0100001000000000\" }}", {
                let mut v = hex::decode(h("td_attributes")).unwrap();
                v[0] &= 0xfe;
                hex::encode(v)
            }),
        ),
    ]
}

fn toml(section: &str, lines: &[(String, String)]) -> String {
    let mut s = format!("id = \"test-refs\"\n[{section}]\n");
    for (k, v) in lines {
        s.push_str(&format!("{k} = {v}\n"));
    }
    s
}

fn flip_hex(v: &str) -> String {
    // Flip the first hex digit inside the first quoted string.
    let i = v.find('"').unwrap() + 1;
    let mut b = v.as_bytes().to_vec();
    b[i] = if b[i] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

#[test]
fn tdx_samples_are_affirming_against_their_own_values_and_each_change_is_named() {
    for name in ["v4-dcap-qvl-uptodate", "v5-td15-go-tdx-guest-uptodate"] {
        let a = tdx_attester(&vectors().join("tdx").join(name));
        let lines = tdx_refs(a.view());
        let (ear, findings) = appraise(
            std::slice::from_ref(&a),
            &refs(&toml("tdx", &lines)),
            &Policy::default(),
            &ctx(),
        );
        assert!(findings.is_empty(), "{name}: {findings:?}");
        assert_eq!(ear.overall(), Status::Affirming, "{name}");
        let tv = &ear.submods["cpu0"].trust_vector;
        assert_eq!(tv.get("hardware"), Some(2));
        assert_eq!(tv.get("executables"), Some(2));
        assert_eq!(tv.get("configuration"), Some(2));

        for i in 0..lines.len() {
            let mut changed = lines.clone();
            changed[i].1 = if lines[i].0 == "td_attributes" {
                // Flip SEPT_VE_DISABLE (bit 28: byte 3, high nibble), which the mask covers.
                let v = &lines[i].1;
                let at = v.find('"').unwrap() + 1 + 6;
                let mut b = v.as_bytes().to_vec();
                b[at] = if b[at] == b'0' { b'1' } else { b'0' };
                String::from_utf8(b).unwrap()
            } else {
                flip_hex(&changed[i].1)
            };
            let (ear, findings) = appraise(
                std::slice::from_ref(&a),
                &refs(&toml("tdx", &changed)),
                &Policy::default(),
                &ctx(),
            );
            assert_eq!(
                ear.overall(),
                Status::Contraindicated,
                "{name}: {}",
                lines[i].0
            );
            assert_eq!(findings.len(), 1, "{name}: {findings:?}");
            assert_eq!(findings[0].claim, format!("cpu0.{}", lines[i].0));
            let reasons = &ear.submods["cpu0"].extra["coco_findings"];
            assert_eq!(reasons[0]["claim"], lines[i].0.as_str());
        }
        // An alternative next to the changed value keeps it affirming.
        let mut alt = lines.clone();
        alt[0].1 = format!(
            "[{}, {}]",
            &flip_hex(&lines[0].1)[1..lines[0].1.len() - 1],
            &lines[0].1[1..lines[0].1.len() - 1]
        );
        let (ear, _) = appraise(
            std::slice::from_ref(&a),
            &refs(&toml("tdx", &alt)),
            &Policy::default(),
            &ctx(),
        );
        assert_eq!(ear.overall(), Status::Affirming, "{name}: alternatives");
    }
}

#[test]
fn a_debug_td_is_contraindicated_with_that_reason() {
    let a = tdx_attester(&vectors().join("tdx/v4-trustee-debug-td-uptodate"));
    assert_eq!(a.view()["debug"], true);
    let lines = tdx_refs(a.view());
    let (ear, findings) = appraise(
        std::slice::from_ref(&a),
        &refs(&toml("tdx", &lines)),
        &Policy::default(),
        &ctx(),
    );
    assert_eq!(ear.overall(), Status::Contraindicated);
    let claims: Vec<&str> = findings.iter().map(|f| f.claim.as_str()).collect();
    assert!(claims.contains(&"cpu0.debug"), "{claims:?}");
    assert!(
        claims.contains(&"cpu0.td_attributes"),
        "the DEBUG mask catches it too: {claims:?}"
    );
    assert_eq!(
        ear.submods["cpu0"].trust_vector.get("configuration"),
        Some(96)
    );
    // Allowing debug in the policy removes only the policy finding.
    let policy = Policy {
        allow_debug: true,
        ..Policy::default()
    };
    let (_, findings) = appraise(&[a], &refs(&toml("tdx", &lines)), &policy, &ctx());
    assert_eq!(
        findings
            .iter()
            .map(|f| f.claim.as_str())
            .collect::<Vec<_>>(),
        ["cpu0.td_attributes"]
    );
}

#[test]
fn tcb_status_policy() {
    let a = tdx_attester(&vectors().join("tdx/v4-trustee-module-tdx03-outofdate"));
    let lines = tdx_refs(a.view());
    let r = refs(&toml("tdx", &lines));
    let relaxed = Policy {
        require_revocation_check: coco_core::policy::Revocation::NONE,
        ..Policy::default()
    };
    let (ear, findings) = appraise(std::slice::from_ref(&a), &r, &relaxed, &ctx());
    assert_eq!(ear.overall(), Status::Contraindicated);
    assert_eq!(
        findings
            .iter()
            .map(|f| f.claim.as_str())
            .collect::<Vec<_>>(),
        ["cpu0.tcb_status"]
    );
    // OutOfDate with an explicit grace date: a warning until then, contraindicated after.
    let grace = Policy {
        out_of_date_until: Some("2025-08-01T00:00:00Z".into()),
        ..relaxed.clone()
    };
    let (ear, findings) = appraise(std::slice::from_ref(&a), &r, &grace, &ctx());
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(ear.overall(), Status::Warning);
    assert_eq!(ear.submods["cpu0"].trust_vector.get("hardware"), Some(32));
    let late = Context {
        now: 1_760_000_000,
        nonce: None,
    };
    assert_eq!(
        appraise(std::slice::from_ref(&a), &r, &grace, &late)
            .0
            .overall(),
        Status::Contraindicated
    );
    // Missing revocation data is a finding under the default policy.
    let (_, findings) = appraise(&[a], &r, &Policy::default(), &ctx());
    assert!(
        findings
            .iter()
            .any(|f| f.claim == "cpu0.revocation_checked")
    );
}

fn snp_attester(sample: &Path) -> Attester {
    let exp = expected(sample);
    let at = time(exp["endorsement_key"]["not_before"].as_str().unwrap())
        + std::time::Duration::from_secs(86400);
    let certs = sample_certs(sample);
    let bytes = if sample.join("hcl_report.bin").exists() {
        std::fs::read(sample.join("hcl_report.bin")).unwrap()
    } else {
        std::fs::read(sample.join("report.bin")).unwrap()
    };
    attester::snp(
        "cpu0",
        &snp_verify(&bytes, &certs, &snp::VerifyOptions::at(at)).unwrap(),
    )
}

fn snp_refs(c: &Value) -> Vec<(String, String)> {
    let t = &c["reported_tcb"];
    let fmc = t
        .get("fmc")
        .map(|f| format!(", fmc = {f}"))
        .unwrap_or_default();
    vec![
        (
            "measurement".into(),
            format!("[\"{}\"]", c["measurement"].as_str().unwrap()),
        ),
        (
            "host_data".into(),
            format!("[\"{}\"]", c["host_data"].as_str().unwrap()),
        ),
        (
            "policy".into(),
            format!(
                "{{ value = \"0x{:x}\", mask = \"0x{:x}\" }}",
                c["policy"].as_u64().unwrap() & !(1 << 19),
                1u64 << 19 | 1 << 18
            ),
        ),
        ("guest_svn_min".into(), c["guest_svn"].to_string()),
        ("vmpl_max".into(), c["vmpl"].to_string()),
        (
            "product".into(),
            format!("\"{}\"", c["product"].as_str().unwrap()),
        ),
        (
            "signing_key".into(),
            format!("\"{}\"", c["signing_key"].as_str().unwrap()),
        ),
        (
            "reported_tcb_min".into(),
            format!(
                "{{ bootloader = {}, tee = {}, snp = {}, microcode = {}{fmc} }}",
                t["bootloader"], t["tee"], t["snp"], t["microcode"]
            ),
        ),
    ]
}

#[test]
fn snp_samples_are_affirming_and_each_change_is_named() {
    let policy = Policy {
        require_revocation_check: coco_core::policy::Revocation::NONE,
        ..Policy::default()
    };
    let mut seen = 0;
    for sample in samples("snp") {
        let name = sample.file_name().unwrap().to_string_lossy().into_owned();
        let a = snp_attester(&sample);
        let lines = snp_refs(a.view());
        let debug = a.view()["debug"] == true;
        let (ear, findings) = appraise(
            std::slice::from_ref(&a),
            &refs(&toml("snp", &lines)),
            &policy,
            &ctx(),
        );
        if debug {
            assert_eq!(ear.overall(), Status::Contraindicated, "{name}");
            assert!(
                findings.iter().any(|f| f.claim == "cpu0.debug"),
                "{name}: {findings:?}"
            );
            assert!(
                findings.iter().any(|f| f.claim == "cpu0.policy"),
                "{name}: {findings:?}"
            );
            seen += 1;
            continue;
        }
        assert!(findings.is_empty(), "{name}: {findings:?}");
        assert_eq!(ear.overall(), Status::Affirming, "{name}");
        for (i, (k, v)) in lines.iter().enumerate() {
            let changed = match k.as_str() {
                "measurement" | "host_data" => flip_hex(v),
                "guest_svn_min" => (a.view()["guest_svn"].as_u64().unwrap() + 1).to_string(),
                "reported_tcb_min" => v.replacen(
                    &format!("microcode = {}", a.view()["reported_tcb"]["microcode"]),
                    &format!(
                        "microcode = {}",
                        a.view()["reported_tcb"]["microcode"].as_u64().unwrap() + 1
                    ),
                    1,
                ),
                "policy" => v.replace("mask = \"0x", "mask = \"0x1"), // also compare bit 60, which is 0 ...
                _ => continue,
            };
            let mut ch = lines.clone();
            ch[i].1 = if k == "policy" {
                // ... against a value with bit 60 set.
                let p = a.view()["policy"].as_u64().unwrap() & !(1 << 19) | 1 << 60;
                format!(
                    "{{ value = \"0x{p:x}\", mask = \"0x{:x}\" }}",
                    1u64 << 60 | 1 << 19
                )
            } else {
                changed
            };
            let (ear, findings) = appraise(
                std::slice::from_ref(&a),
                &refs(&toml("snp", &ch)),
                &policy,
                &ctx(),
            );
            assert_eq!(ear.overall(), Status::Contraindicated, "{name}: {k}");
            let want = match k.as_str() {
                "guest_svn_min" => "cpu0.guest_svn".to_string(),
                "reported_tcb_min" => "cpu0.reported_tcb".to_string(),
                other => format!("cpu0.{other}"),
            };
            assert_eq!(
                findings.iter().map(|f| f.claim.clone()).collect::<Vec<_>>(),
                [want],
                "{name}"
            );
        }
        seen += 1;
    }
    assert_eq!(seen, 8);
}

#[test]
fn signed_reference_values_from_a_vendor_key() {
    let a = tdx_attester(&vectors().join("tdx/v4-dcap-qvl-uptodate"));
    let unsigned = build::build(&toml("tdx", &tdx_refs(a.view()))).unwrap();
    let vendor = SigningKey::generate_p384().unwrap();
    let signed = cose::sign(&unsigned, &vendor, "ACME Model Ops", None).unwrap();
    let s = SignedCorim::decode(&signed, &DecodeOptions::default()).unwrap();
    s.verify(&[vendor.public()], ctx().now).unwrap();
    let other = SigningKey::generate_p384().unwrap();
    assert!(s.verify(&[other.public()], ctx().now).is_err());
    let r = ReferenceValues::from_corims(&[s.corim]).unwrap();
    let (ear, _) = appraise(&[a], &r, &Policy::default(), &ctx());
    assert_eq!(ear.overall(), Status::Affirming);
    // No reference values at all: contraindicated, named.
    let empty = ReferenceValues::default();
    let a = tdx_attester(&vectors().join("tdx/v4-dcap-qvl-uptodate"));
    let (ear, findings) = appraise(&[a], &empty, &Policy::default(), &ctx());
    assert_eq!(ear.overall(), Status::Contraindicated);
    assert_eq!(findings[0].claim, "cpu0.reference values");
}

fn gpu_attesters(sample: &Path) -> Vec<Attester> {
    let at = time("2026-11-27T00:00:00Z");
    let nonce = nvidia_nonce(sample);
    let mut opts = coco_evidence::nvidia::VerifyOptions::at(at).with_nonce(nonce);
    opts.parse.allow_trailing_data = true;
    let verified = if sample.join("gpu_evidence.json").is_file() {
        coco_evidence::nvidia::verify_wire(
            &std::fs::read(sample.join("gpu_evidence.json")).unwrap(),
            &opts,
        )
        .unwrap()
    } else {
        vec![
            nvidia_verify(
                &std::fs::read(sample.join("attestation_report.bin")).unwrap(),
                &coco_evidence::x509::load_certs(&sample.join("cert_chain.pem")).unwrap(),
                &opts,
            )
            .unwrap(),
        ]
    };
    verified
        .iter()
        .enumerate()
        .map(|(i, v)| attester::nvidia(&format!("gpu{i}"), v).with_expected_binding(&nonce))
        .collect()
}

/// REFS.toml `[[nvidia]]` of a GPU's own values: versions and every non-zero measurement.
fn nvidia_refs(c: &Value) -> String {
    let mut s = format!(
        "id = \"gpu-refs\"\n[[nvidia]]\nchip = {}\ndriver_version = [{}]\nvbios_version = [{}]\n[nvidia.measurements]\n",
        c["chip"], c["driver_version"], c["vbios_version"]
    );
    for (k, v) in c["measurements"].as_object().unwrap() {
        if v.as_str().unwrap().bytes().any(|b| b != b'0') {
            s.push_str(&format!("\"{k}\" = [{v}]\n"));
        }
    }
    s
}

/// NVIDIA's OCSP is not consulted yet: the policy waives revocation for GPUs only.
fn gpu_policy() -> Policy {
    Policy::from_toml("[require_revocation_check]\nnvidia = false\n").unwrap()
}

#[test]
fn nvidia_samples_are_affirming_and_each_change_is_named() {
    let mut seen = 0;
    for sample in samples("nvidia") {
        let name = sample.file_name().unwrap().to_string_lossy().into_owned();
        let gpus = gpu_attesters(&sample);
        let a = &gpus[0];
        let text = nvidia_refs(a.view());
        let (ear, findings) = appraise(&gpus, &refs(&text), &gpu_policy(), &ctx());
        assert!(findings.is_empty(), "{name}: {findings:?}");
        assert_eq!(ear.overall(), Status::Affirming, "{name}");
        let tv = &ear.submods["gpu0"].trust_vector;
        assert_eq!(tv.get("executables"), Some(2), "{name}");
        assert_eq!(tv.get("instance-identity"), Some(2), "{name}");
        assert_eq!(ear.submods.len(), gpus.len(), "{name}");
        // Each single change is contraindicated with its reason.
        let measured: Vec<String> = a.view()["measurements"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| v.as_str().unwrap().bytes().any(|b| b != b'0'))
            .map(|(k, _)| k.clone())
            .collect();
        let mut changes = vec![
            (
                "driver_version".to_string(),
                text.replacen("driver_version = [\"", "driver_version = [\"1", 1),
            ),
            (
                "vbios_version".to_string(),
                text.replacen("vbios_version = [\"", "vbios_version = [\"1", 1),
            ),
        ];
        for k in measured.iter().take(4) {
            let line = format!("\"{k}\" = [\"");
            let at = text.find(&line).unwrap() + line.len();
            let mut t = text.clone().into_bytes();
            t[at] = if t[at] == b'0' { b'1' } else { b'0' };
            changes.push((format!("measurement[{k}]"), String::from_utf8(t).unwrap()));
        }
        for (claim, changed) in changes {
            let (ear, findings) = appraise(
                std::slice::from_ref(a),
                &refs(&changed),
                &gpu_policy(),
                &ctx(),
            );
            assert_eq!(ear.overall(), Status::Contraindicated, "{name}: {claim}");
            let want = match claim.as_str() {
                "driver_version" => "gpu0.driver-version".to_string(),
                "vbios_version" => "gpu0.vbios-version".to_string(),
                m => format!("gpu0.{m}"),
            };
            assert_eq!(
                findings.iter().map(|f| f.claim.clone()).collect::<Vec<_>>(),
                [want],
                "{name}"
            );
        }
        // A report from another session (another nonce) breaks the binding.
        let other = a.clone().with_expected_binding(&[0u8; 32]);
        let (ear, findings) = appraise(&[other], &refs(&text), &gpu_policy(), &ctx());
        assert_eq!(ear.overall(), Status::Contraindicated, "{name}");
        assert_eq!(findings[0].claim, "gpu0.nonce", "{name}");
        seen += 1;
    }
    assert_eq!(seen, 6);
}

#[test]
fn nvidia_reference_values_from_nvidias_rims() {
    use coco_evidence::nvidia::rim;
    let s = vectors().join("nvidia/hopper-h100-545.00-e2e");
    let (driver, vbios) = e2e_rims();
    let text = format!(
        "id = \"nvidia-rims\"\n{}",
        rim::reference_toml("GH100", Some(&driver), Some(&vbios)).unwrap()
    );
    let gpus = gpu_attesters(&s);
    let (ear, findings) = appraise(&gpus, &refs(&text), &gpu_policy(), &ctx());
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(ear.overall(), Status::Affirming);
    // NVDEC0 is disabled in this report: a wrong golden value at SPDM index 36 (RIM 35) is
    // not compared, as in NVIDIA's verifier; one at index 8 (RIM 7) is.
    assert_eq!(gpus[0].view()["opaque"]["nvdec0_status"], "disabled");
    let edit = |idx: &str| {
        let line = format!("\"{idx}\" = [\"");
        let at = text.find(&line).unwrap_or_else(|| panic!("{idx}")) + line.len();
        let mut t = text.clone().into_bytes();
        t[at] = if t[at] == b'f' { b'e' } else { b'f' };
        String::from_utf8(t).unwrap()
    };
    let (ear, _) = appraise(&gpus, &refs(&edit("36")), &gpu_policy(), &ctx());
    assert_eq!(ear.overall(), Status::Affirming);
    let (ear, findings) = appraise(&gpus, &refs(&edit("8")), &gpu_policy(), &ctx());
    assert_eq!(ear.overall(), Status::Contraindicated);
    assert_eq!(findings[0].claim, "gpu0.measurement[8]");
    // The 550.90.07 report against the 550.144.03 driver RIM: another driver build.
    let d2 = rim::RimDocument::parse(
        &std::fs::read(vectors().join("nvidia/rims/driver/NV_GPU_DRIVER_GH100_550.144.03.xml"))
            .unwrap(),
    )
    .and_then(|doc| rim::verify(doc, time("2026-11-27T00:00:00Z")))
    .unwrap();
    let text = format!(
        "id = \"d2\"\n{}",
        rim::reference_toml("GH100", Some(&d2), None).unwrap()
    );
    let gpus = gpu_attesters(&vectors().join("nvidia/hopper-h100-550.90.07"));
    let (ear, findings) = appraise(&gpus, &refs(&text), &gpu_policy(), &ctx());
    assert_eq!(ear.overall(), Status::Contraindicated);
    let mut claims: Vec<String> = findings.iter().map(|f| f.claim.clone()).collect();
    claims.sort();
    assert_eq!(
        claims,
        [
            "gpu0.driver-version",
            "gpu0.measurement[23]",
            "gpu0.measurement[32]",
            "gpu0.measurement[40]",
            "gpu0.measurement[41]",
            "gpu0.measurement[8]"
        ]
    );
}

/// A waiver of GPU revocation does not relax the CPU's: a real TDX quote whose CRLs were
/// checked and real H100 evidence are affirming together under a policy that waives only
/// NVIDIA revocation; the same policy refuses a real TDX quote verified without CRLs, and a
/// waiver for SNP only refuses the GPU.
#[test]
fn revocation_is_required_per_platform() {
    let tdx = tdx_attester(&vectors().join("tdx/v4-dcap-qvl-uptodate"));
    assert_eq!(tdx.view()["revocation_checked"], true);
    let gpus = gpu_attesters(&vectors().join("nvidia/hopper-h100-550.90.07"));
    assert_eq!(gpus[0].view()["revocation_checked"], false);
    let text = format!(
        "{}\n{}",
        toml("tdx", &tdx_refs(tdx.view())),
        nvidia_refs(gpus[0].view()).replacen("id = \"gpu-refs\"\n", "", 1)
    );
    let both = refs(&text);
    let mut all = vec![tdx];
    all.extend(gpus.iter().cloned());
    let (ear, findings) = appraise(&all, &both, &gpu_policy(), &ctx());
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(ear.overall(), Status::Affirming);

    // The same quote verified without its CRLs: the CPU is refused, the GPU is not.
    let s = vectors().join("tdx/v4-dcap-qvl-uptodate");
    let at = time(
        expected(&s)["collateral_evaluation"]["suggested_as_of"]
            .as_str()
            .unwrap(),
    );
    let opts = VerifyOptions::at(at).without_revocation_check();
    let mut raw = RawCollateral::from_dir(&s.join("collateral")).unwrap();
    raw.pck_crl = None;
    raw.root_ca_crl = None;
    let c = tdx::verify_collateral(&raw, &opts).unwrap();
    let q = std::fs::read(s.join("quote.bin")).unwrap();
    let unchecked = attester::tdx("cpu0", &tdx_verify(&q, Some(&c), &opts).unwrap());
    let mut all = vec![unchecked];
    all.extend(gpus.iter().cloned());
    let (ear, findings) = appraise(&all, &both, &gpu_policy(), &ctx());
    assert_eq!(ear.overall(), Status::Contraindicated);
    let claims: Vec<&str> = findings.iter().map(|f| f.claim.as_str()).collect();
    assert_eq!(claims, ["cpu0.revocation_checked"]);
    assert_eq!(ear.submods["gpu0"].status, Status::Affirming);

    // A waiver for SNP only: the GPU's unchecked revocation is refused (and, appraised
    // without its CPU, the bundle lacks the TDX attester the reference values describe).
    let snp_only = Policy::from_toml("[require_revocation_check]\nsnp = false\n").unwrap();
    let (_, findings) = appraise(&all[1..], &both, &snp_only, &ctx());
    let claims: Vec<&str> = findings.iter().map(|f| f.claim.as_str()).collect();
    assert_eq!(claims, ["gpu0.revocation_checked", "composition.cpu0"]);
}

/// A policy's minimum TCB evaluation data number against real collateral (number 17): met at
/// 17, a finding naming the claim at 18.
#[test]
fn minimum_tcb_evaluation_data_number_policy() {
    let a = tdx_attester(&vectors().join("tdx/v4-trustee-module-tdx03-outofdate"));
    let r = refs(&toml("tdx", &tdx_refs(a.view())));
    let policy = |min: u32| Policy {
        require_revocation_check: coco_core::policy::Revocation::NONE,
        out_of_date_until: Some("2025-08-01T00:00:00Z".into()),
        min_tcb_evaluation_data_number: Some(min),
        ..Policy::default()
    };
    let (_, findings) = appraise(std::slice::from_ref(&a), &r, &policy(17), &ctx());
    assert!(findings.is_empty(), "{findings:?}");
    let (ear, findings) = appraise(std::slice::from_ref(&a), &r, &policy(18), &ctx());
    assert_eq!(ear.overall(), Status::Contraindicated);
    let claims: Vec<&str> = findings.iter().map(|f| f.claim.as_str()).collect();
    assert_eq!(claims, ["cpu0.tcb_evaluation_data_number"]);
    assert_eq!(findings[0].found, 17);
}
