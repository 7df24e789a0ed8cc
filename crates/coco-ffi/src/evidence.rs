//! Evidence verification and appraisal: the decision of the key-release service, offline.

use std::ffi::{CStr, CString, c_char};

use crate::boundary::{clear_out, str_from};
use crate::status::{FfiError, coco_status, guard, status};

/// Verifies attestation evidence. `platform` is `"snp"`, `"azure-snp"`, `"tdx"` or
/// `"nvidia"` (a raw GPU report with `certs`, or the JSON wire format of one or several GPUs);
/// `options_json` (NULL for none) is a JSON object with the CLI's option names: `certs`
/// (path), `collateral` (path), `nonce` (hex), `at` (RFC 3339), `no_revocation_check` (bool),
/// `allow_trailing_data` (bool).
/// `*out_json` receives the object `coco evidence verify --json` prints (free it with
/// `coco_string_free`), whether or not the evidence verified. Returns `COCO_OK` when it
/// verified, `COCO_ERR_VERIFICATION` when it did not, another status for bad arguments.
///
/// # Safety
/// `platform` and `options_json` must be NULL or NUL-terminated strings, `bytes` must point
/// to `len` readable bytes, `out_json` to writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_evidence_verify_json(
    platform: *const c_char,
    bytes: *const u8,
    len: usize,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> i32 {
    status(guard(|| {
        // SAFETY: `out_json` is NULL or writable storage for one pointer (caller).
        unsafe { clear_out(out_json, "out_json") }?;
        if platform.is_null() {
            return Err(FfiError::invalid("platform is NULL"));
        }
        // SAFETY: non-NULL, NUL-terminated (caller).
        let platform = unsafe { CStr::from_ptr(platform) }
            .to_str()
            .map_err(|_| FfiError::invalid("platform is not UTF-8"))?;
        if bytes.is_null() || len == 0 {
            return Err(FfiError::invalid("evidence bytes are NULL or empty"));
        }
        // SAFETY: `bytes` is non-NULL and points to `len` readable bytes (caller).
        let evidence = unsafe { std::slice::from_raw_parts(bytes, len) };
        let opts: coco_evidence::api::Options = if options_json.is_null() {
            Default::default()
        } else {
            // SAFETY: non-NULL, NUL-terminated (caller).
            let text = unsafe { CStr::from_ptr(options_json) }
                .to_str()
                .map_err(|_| FfiError::invalid("options_json is not UTF-8"))?;
            serde_json::from_str(text)
                .map_err(|e| FfiError::invalid(format!("options_json: {e}")))?
        };
        let (verified, value) = coco_evidence::api::verify_json(platform, evidence, &opts);
        let c = CString::new(value.to_string()).map_err(|_| FfiError::invalid("NUL in JSON"))?;
        // SAFETY: `out_json` is non-NULL and writable (caller).
        unsafe { *out_json = c.into_raw() };
        if verified {
            Ok(0)
        } else {
            Err(FfiError {
                status: coco_status::COCO_ERR_VERIFICATION,
                message: value["error"]["message"]
                    .as_str()
                    .unwrap_or("verification failed")
                    .to_string(),
            })
        }
    }))
}

/// `certs` of the options: one path or a list of paths.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(untagged)]
enum CertPaths {
    #[default]
    None,
    One(std::path::PathBuf),
    Many(Vec<std::path::PathBuf>),
}

impl CertPaths {
    fn into_vec(self) -> Vec<std::path::PathBuf> {
        match self {
            CertPaths::None => Vec::new(),
            CertPaths::One(p) => vec![p],
            CertPaths::Many(v) => v,
        }
    }
}

/// The options of [`coco_appraise_json`]: those of `coco_evidence_verify_json` plus the
/// reference values, their signers, the policy and an EAR signing key (all paths).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AppraiseOptions {
    #[serde(default)]
    references: Vec<std::path::PathBuf>,
    #[serde(default)]
    corim_keys: Vec<std::path::PathBuf>,
    policy: Option<std::path::PathBuf>,
    sign_key: Option<std::path::PathBuf>,
    #[serde(default)]
    certs: CertPaths,
    collateral: Option<std::path::PathBuf>,
    crl: Option<std::path::PathBuf>,
    nonce: Option<String>,
    at: Option<String>,
    #[serde(default)]
    no_revocation_check: bool,
    #[serde(default)]
    allow_trailing_data: bool,
}

/// One piece of evidence of [`coco_appraise_json`].
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceFile {
    platform: String,
    path: std::path::PathBuf,
}

/// Verifies evidence and appraises it against reference values and a policy: the decision of
/// the key-release service, offline (the same Rust function as `coco appraise` and Python's
/// `coco.appraise`).
///
/// `evidence_json` is a JSON array of `{"platform": "snp"|"azure-snp"|"tdx"|"nvidia",
/// "path": FILE}`; CPUs become submodules `cpu0`..., GPUs `gpu0`.... `options_json` (NULL for
/// none) holds the options of `coco_evidence_verify_json` (`certs`, `collateral`, `crl`,
/// `nonce`, `at`, `no_revocation_check`, `allow_trailing_data`) plus `references` (CoRIM
/// files), `corim_keys` (trusted CoRIM signer keys: JWK, SPKI PEM or DER files), `policy` (a
/// TOML file; the strict default when absent) and `sign_key` (PKCS#8 PEM: the result then
/// has `jwt`). `*out_json` receives `{"status", "ear", "findings"[, "jwt"]}`, or
/// `{"error": {"kind", "message", ...}}` when evidence did not verify or the inputs could not
/// be loaded (free it with `coco_string_free`). Returns `COCO_OK` when the EAR is affirming
/// (or a warning), `COCO_ERR_APPRAISAL` when it is not, `COCO_ERR_VERIFICATION` when evidence
/// did not verify, `COCO_ERR_CONFIG` when reference values, keys, the policy or an option are
/// unusable, another status for bad arguments.
///
/// # Safety
/// `evidence_json` and `options_json` must be NULL or NUL-terminated strings, `out_json`
/// writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_appraise_json(
    evidence_json: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> i32 {
    status(guard(|| {
        // SAFETY: `out_json` is NULL or writable storage for one pointer (caller).
        unsafe { clear_out(out_json, "out_json") }?;
        // SAFETY: NULL or NUL-terminated (caller).
        let list = unsafe { str_from(evidence_json, "evidence_json") }?;
        let list: Vec<EvidenceFile> = serde_json::from_str(list)
            .map_err(|e| FfiError::invalid(format!("evidence_json: {e}")))?;
        let o: AppraiseOptions = if options_json.is_null() {
            serde_json::from_str("{}").map_err(|e| FfiError::invalid(e.to_string()))?
        } else {
            // SAFETY: non-NULL, NUL-terminated (caller).
            let text = unsafe { str_from(options_json, "options_json") }?;
            serde_json::from_str(text)
                .map_err(|e| FfiError::invalid(format!("options_json: {e}")))?
        };
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| FfiError {
                status: coco_status::COCO_ERR_IO,
                message: format!("{}: {e}", p.display()),
            })
        };
        let text = |p: &std::path::Path| {
            String::from_utf8(read(p)?)
                .map_err(|_| FfiError::invalid(format!("{}: not UTF-8", p.display())))
        };
        let evidence = list
            .iter()
            .map(|e| Ok((e.platform.as_str(), read(&e.path)?)))
            .collect::<Result<Vec<_>, FfiError>>()?;
        let references = o
            .references
            .iter()
            .map(|p| read(p))
            .collect::<Result<Vec<_>, _>>()?;
        let corim_keys = o
            .corim_keys
            .iter()
            .map(|p| read(p))
            .collect::<Result<Vec<_>, _>>()?;
        let policy = o.policy.as_deref().map(text).transpose()?;
        let sign_key = o.sign_key.as_deref().map(text).transpose()?;
        let opts = coco_evidence::api::Options {
            certs: o.certs.into_vec(),
            collateral: o.collateral,
            crl: o.crl,
            nonce: o.nonce,
            at: o.at,
            no_revocation_check: o.no_revocation_check,
            allow_trailing_data: o.allow_trailing_data,
        };
        let evidence: Vec<(&str, &[u8])> =
            evidence.iter().map(|(p, b)| (*p, b.as_slice())).collect();
        let references: Vec<&[u8]> = references.iter().map(Vec::as_slice).collect();
        let corim_keys: Vec<&[u8]> = corim_keys.iter().map(Vec::as_slice).collect();
        let result =
            coco_release::decision::appraise_json(&coco_release::decision::AppraiseRequest {
                evidence: &evidence,
                references: &references,
                corim_keys: &corim_keys,
                policy_toml: policy.as_deref(),
                sign_key_pem: sign_key.as_deref(),
                options: &opts,
            });
        let (value, failure) = match result {
            Ok(v) => {
                let affirmed = matches!(v["status"].as_str(), Some("affirming" | "warning"));
                let failure = (!affirmed).then(|| {
                    let claims: Vec<&str> = v["findings"]
                        .as_array()
                        .map(|f| f.iter().filter_map(|x| x["claim"].as_str()).collect())
                        .unwrap_or_default();
                    (
                        coco_status::COCO_ERR_APPRAISAL,
                        format!("appraisal: {}", claims.join(", ")),
                    )
                });
                (v, failure)
            }
            Err(e) => {
                let message = e["message"].as_str().unwrap_or("failed").to_string();
                let status = decision_status(&e);
                (serde_json::json!({ "error": e }), Some((status, message)))
            }
        };
        let c = CString::new(value.to_string()).map_err(|_| FfiError::invalid("NUL in JSON"))?;
        // SAFETY: `out_json` is non-NULL and writable (caller).
        unsafe { *out_json = c.into_raw() };
        match failure {
            None => Ok(0),
            Some((status, message)) => Err(FfiError { status, message }),
        }
    }))
}

/// The status of a decision's error object (`coco_release::decision::error_json`): evidence
/// that did not verify, an appraisal that did not affirm, or configuration that is unusable.
fn decision_status(error: &serde_json::Value) -> coco_status {
    match (error["class"].as_str(), error["kind"].as_str()) {
        (Some("config"), _) | (_, Some("config" | "policy" | "usage" | "binding")) => {
            coco_status::COCO_ERR_CONFIG
        }
        (_, Some("appraisal")) => coco_status::COCO_ERR_APPRAISAL,
        _ => coco_status::COCO_ERR_VERIFICATION,
    }
}
