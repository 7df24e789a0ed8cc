//! `coco evidence verify`.

use clap::{Args, Subcommand, ValueEnum};
use coco_evidence::api;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// `coco evidence ...`.
#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// Parse and cryptographically verify evidence; print its claims.
    Verify(VerifyArgs),
    /// On a GPU machine: collect every NVIDIA GPU's attestation report and chain through
    /// NVML, as the JSON wire format `evidence verify --platform nvidia` reads. With no GPU
    /// or CC off, exit 1 with the reason and NVML's view of the CC state on stderr.
    CollectGpus(CollectArgs),
}

/// `coco evidence collect-gpus`.
#[derive(Args)]
pub struct CollectArgs {
    /// The nonce the reports must answer (hex, 32 bytes; e.g. the key-release binding).
    #[arg(long)]
    nonce: String,
    /// Write the JSON here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `coco evidence collect-gpus`.
pub fn collect_gpus(a: &CollectArgs) -> ExitCode {
    use coco_evidence::collect::nvml as collect;
    let nonce = match coco_evidence::nvidia::abi::parse_nonce(&a.nonce) {
        Some(n) => n,
        None => {
            eprintln!("coco: error: --nonce must be 32 bytes of hex");
            return ExitCode::from(2);
        }
    };
    match collect::collect(&nonce) {
        Ok(gpus) => {
            let wire: Vec<_> = gpus.iter().map(|g| g.to_wire(&nonce)).collect();
            let text = serde_json::to_string_pretty(&wire).expect("wire JSON serializes");
            match &a.out {
                Some(p) => {
                    if let Err(e) = std::fs::write(p, text + "\n") {
                        eprintln!("coco: error: {}: {e}", p.display());
                        return ExitCode::FAILURE;
                    }
                    eprintln!(
                        "coco: {} GPU report(s) written to {}",
                        gpus.len(),
                        p.display()
                    );
                }
                None => outln!("{text}"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("coco: error: {e}");
            match collect::cc_state() {
                Ok(s) => eprintln!(
                    "coco: NVML CC state: {}",
                    serde_json::to_string(&s).expect("state serializes")
                ),
                Err(e) => eprintln!("coco: NVML CC state unavailable: {e}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// Evidence platforms this build verifies.
#[derive(Clone, Copy, ValueEnum)]
pub enum Platform {
    /// AMD SEV-SNP attestation report (raw 1184 bytes, or an Azure HCL report: detected).
    Snp,
    /// An AMD SEV-SNP report inside an Azure HCL report (the HCL wrapper is required).
    AzureSnp,
    /// Intel TDX quote v4 or v5 (PCK chain inside; TCB status with --collateral).
    Tdx,
    /// NVIDIA GPU attestation report (Hopper, Blackwell): the raw report with --certs (the
    /// PEM chain NVML returns), or the JSON wire format of one or several GPUs.
    Nvidia,
}

impl Platform {
    fn name(self) -> &'static str {
        match self {
            Platform::Snp => "snp",
            Platform::AzureSnp => "azure-snp",
            Platform::Tdx => "tdx",
            Platform::Nvidia => "nvidia",
        }
    }
}

/// `coco evidence verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The evidence platform.
    #[arg(long, value_enum)]
    platform: Platform,
    /// The evidence file.
    file: PathBuf,
    /// Certificates: a PEM bundle or DER file, or a directory of PEM/DER files (any order).
    /// Vendor roots are pinned in coco and never taken from here. Repeatable.
    #[arg(long, value_name = "PATH")]
    certs: Vec<PathBuf>,
    /// Collateral directory. TDX: tcb_info.json, qe_identity.json, tcb_signing_chain.pem,
    /// pck_crl.der, root_ca_crl.der; without it a TDX quote's TCB status is not evaluated
    /// (`tcb_status: null`) and --no-revocation-check is required. NVIDIA: OCSP responses for
    /// the device chain in ocsp/ (`coco collateral fetch --platform nvidia`); without them the
    /// claims say "revocation_checked": false.
    #[arg(long)]
    collateral: Option<PathBuf>,
    /// AMD's CRL for the product (SNP; KDS /vcek/v1/{product}/crl, DER or PEM): it must be
    /// signed by the pinned ARK, and a revoked ASK/ASVK or VCEK/VLEK fails.
    #[arg(long)]
    crl: Option<PathBuf>,
    /// Accept missing revocation data (CRLs); the claims then say "revocation_checked": false.
    #[arg(long)]
    no_revocation_check: bool,
    /// Accept unsigned bytes after the quote or report structure (TDX zero padding is always
    /// accepted).
    #[arg(long)]
    allow_trailing_data: bool,
    /// The nonce GPU reports must answer (hex, 32 bytes). Without it freshness is not checked
    /// (`"x-nvidia-gpu-attestation-report-nonce-match": null`).
    #[arg(long)]
    nonce: Option<String>,
    /// Verify as of this time (RFC 3339, e.g. 2026-01-31T12:00:00Z) instead of now.
    #[arg(long)]
    at: Option<String>,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs the command; exit 0 verified, 1 not verified.
pub fn verify(a: &VerifyArgs) -> ExitCode {
    let platform = a.platform.name();
    let opts = api::Options {
        certs: a.certs.clone(),
        collateral: a.collateral.clone(),
        crl: a.crl.clone(),
        at: a.at.clone(),
        no_revocation_check: a.no_revocation_check,
        allow_trailing_data: a.allow_trailing_data,
        nonce: a.nonce.clone(),
    };
    let result = std::fs::read(&a.file)
        .map(|bytes| api::verify_json(platform, &bytes, &opts))
        .unwrap_or_else(|e| {
            (
                false,
                json!({"platform": platform, "verified": false,
                       "error": {"kind": "io", "message": format!("{}: {e}", a.file.display())}}),
            )
        });
    match result {
        (true, v) => {
            if a.json {
                outln!("{v}");
            } else {
                outln!("verified {platform} evidence");
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&v["claims"]).expect("claims serialize")
                );
            }
            ExitCode::SUCCESS
        }
        (false, v) => {
            if a.json {
                outln!("{v}");
            }
            let msg = v["error"]["message"]
                .as_str()
                .unwrap_or("verification failed");
            eprintln!("coco: error: {}", msg.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
