//! `coco collateral fetch`: the collateral a piece of evidence needs, fetched from the vendor's
//! service, verified, and written in the layout `coco evidence verify --collateral` reads.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use clap::{Args, Subcommand};
use coco_release::collateral::pcs::{self, INTEL_PCS, INTEL_ROOT_CA_CRL, Pcs};
use coco_release::tls::ClientTls;

use crate::CmdResult;

/// `coco collateral ...`.
#[derive(Subcommand)]
pub enum CollateralCommand {
    /// Fetch the collateral of a TDX quote from Intel's PCS (or a PCCS), verify it (signatures
    /// to Intel's pinned root, validity, the quote's FMSPC) and write tcb_info.json,
    /// qe_identity.json, tcb_signing_chain.pem, pck_crl.der and root_ca_crl.der into --out.
    Fetch(FetchArgs),
}

/// `coco collateral fetch`.
#[derive(Args)]
pub struct FetchArgs {
    /// The platform of the evidence: tdx.
    #[arg(long, value_parser = ["tdx"])]
    platform: String,
    /// The evidence (a TDX quote): its PCK certificate names the FMSPC and the PCK CA.
    evidence: PathBuf,
    /// The directory to write (created; existing collateral files are kept unless --force).
    #[arg(long)]
    out: PathBuf,
    /// The PCS API v4 base URL: Intel's, or a PCCS (e.g. https://pccs.internal:8081).
    #[arg(long, value_name = "URL", default_value = INTEL_PCS)]
    pcs: String,
    /// Where the Root CA CRL comes from: the root's distribution point, or a PCCS's
    /// .../sgx/certification/v4/rootcacrl.
    #[arg(long, value_name = "URL", default_value = INTEL_ROOT_CA_CRL)]
    root_ca_crl: String,
    /// Trust only this CA bundle (PEM) for the services' TLS certificates.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Allow http:// to a host other than loopback.
    #[arg(long)]
    plain_http: bool,
    /// Verify the fetched collateral at this time (RFC 3339; default: now).
    #[arg(long)]
    at: Option<String>,
    /// Replace collateral files already in --out.
    #[arg(long)]
    force: bool,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The files written, in `coco evidence verify --collateral` layout.
const FILES: [&str; 5] = [
    "tcb_info.json",
    "qe_identity.json",
    "tcb_signing_chain.pem",
    "pck_crl.der",
    "root_ca_crl.der",
];

/// Runs `coco collateral ...`.
pub fn run(c: &CollateralCommand) -> CmdResult {
    let CollateralCommand::Fetch(a) = c;
    // Every local argument before anything is asked of the network.
    let at = match &a.at {
        Some(t) => coco_evidence::time::parse_rfc3339(t)?,
        None => SystemTime::now(),
    };
    if !a.force
        && let Some(f) = FILES.iter().map(|f| a.out.join(f)).find(|p| p.exists())
    {
        return Err(format!("--out: {} exists (--force replaces it)", f.display()).into());
    }
    let quote = crate::read_file(&a.evidence, None)?;
    let ids = pcs::quote_ids(&quote)?;
    let tls = ClientTls {
        ca_pem: a
            .ca
            .as_deref()
            .map(|p| crate::read_file(p, Some("--ca")))
            .transpose()?,
        allow_plain_http: a.plain_http,
    };
    let fetched = Pcs::new(&a.pcs, &a.root_ca_crl, &tls)?.tdx(&ids, at)?;
    let raw = &fetched.raw;
    std::fs::create_dir_all(&a.out).map_err(|e| format!("--out {}: {e}", a.out.display()))?;
    let bodies: [&[u8]; 5] = [
        &raw.tcb_info,
        &raw.qe_identity,
        &raw.tcb_signing_chain,
        raw.pck_crl.as_deref().unwrap_or_default(),
        raw.root_ca_crl.as_deref().unwrap_or_default(),
    ];
    for (name, body) in FILES.iter().zip(bodies) {
        write(&a.out.join(name), body)?;
    }
    let fmspc = hex::encode(ids.fmspc);
    if a.json {
        outln!(
            "{}",
            serde_json::json!({"platform": "tdx", "fmspc": fmspc, "pck_ca": ids.ca.name(),
                               "out": a.out, "files": FILES,
                               "tcb_evaluation_data_number": fetched.tcb_evaluation_data_number,
                               "valid_until": coco_core::time::format_rfc3339(fetched.valid_until)})
        );
    } else {
        eprintln!(
            "coco: TDX collateral for FMSPC {fmspc} (PCK {} CA) verified and written to {}",
            ids.ca.name(),
            a.out.display()
        );
    }
    Ok(())
}

/// Writes `bytes` to `path` whole or not at all (a temporary file renamed into place).
fn write(path: &Path, bytes: &[u8]) -> CmdResult {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}
