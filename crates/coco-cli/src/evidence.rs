//! `coco evidence verify`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Subcommand, ValueEnum};
use coco_evidence::{EvidenceError, snp, x509};
use serde_json::{Value, json};

/// `coco evidence ...`.
#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// Parse and cryptographically verify evidence; print its claims.
    Verify(VerifyArgs),
}

/// Evidence platforms this build verifies.
#[derive(Clone, Copy, ValueEnum)]
pub enum Platform {
    /// AMD SEV-SNP attestation report (raw 1184 bytes, or an Azure HCL report: detected).
    Snp,
    /// An AMD SEV-SNP report inside an Azure HCL report (the HCL wrapper is required).
    AzureSnp,
}

impl Platform {
    fn name(self) -> &'static str {
        match self {
            Platform::Snp => "snp",
            Platform::AzureSnp => "azure-snp",
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
    /// Vendor roots are pinned in coco and never taken from here.
    #[arg(long)]
    certs: Option<PathBuf>,
    /// Verify as of this time (RFC 3339, e.g. 2026-01-31T12:00:00Z) instead of now.
    #[arg(long)]
    at: Option<String>,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

fn run(a: &VerifyArgs) -> Result<Value, EvidenceError> {
    let at = match &a.at {
        Some(s) => coco_evidence::time::parse_rfc3339(s)?,
        None => SystemTime::now(),
    };
    let bytes = std::fs::read(&a.file).map_err(|e| EvidenceError::Malformed {
        structure: "evidence file",
        field: "file",
        offset: 0,
        reason: format!("{}: {e}", a.file.display()),
    })?;
    let certs = match &a.certs {
        Some(p) => x509::load_certs(p)?,
        None => Vec::new(),
    };
    match a.platform {
        Platform::AzureSnp if !snp::azure::is_hcl(&bytes) => Err(EvidenceError::Platform(
            "--platform azure-snp needs an Azure HCL report (magic \"HCLA\")".into(),
        )),
        Platform::Snp | Platform::AzureSnp => {
            let v = snp::verify_bytes(&bytes, &certs, &snp::VerifyOptions::at(at))?;
            let mut claims = snp::claims::claims(&v);
            claims["revocation_checked"] = json!(false);
            Ok(claims)
        }
    }
}

/// Runs the command; exit 0 verified, 1 not verified.
pub fn verify(a: &VerifyArgs) -> ExitCode {
    let platform = a.platform.name();
    match run(a) {
        Ok(claims) => {
            if a.json {
                println!(
                    "{}",
                    json!({"platform": platform, "verified": true, "claims": claims})
                );
            } else {
                println!("verified {platform} evidence");
                println!(
                    "{}",
                    serde_json::to_string_pretty(&claims).expect("claims serialize")
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if a.json {
                println!(
                    "{}",
                    json!({"platform": platform, "verified": false,
                           "error": {"kind": e.kind(), "message": e.to_string()}})
                );
            }
            eprintln!("coco: error: {}", e.to_string().replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
