//! `coco collateral fetch`: the collateral a piece of evidence needs, fetched from the vendor's
//! service, verified, and written in the layout `coco evidence verify --collateral` reads.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use clap::{Args, Subcommand};
use coco_release::collateral::kds::{AMD_KDS, Kds};
use coco_release::collateral::pcs::{self, INTEL_PCS, INTEL_ROOT_CA_CRL, Pcs};
use coco_release::tls::ClientTls;

use crate::CmdResult;

/// `coco collateral ...`.
#[derive(Subcommand)]
pub enum CollateralCommand {
    /// Fetch the collateral of a TDX quote from Intel's PCS (or a PCCS), verify it (signatures
    /// to Intel's pinned root, validity, the quote's FMSPC) and write tcb_info.json,
    /// qe_identity.json, tcb_signing_chain.pem, pck_crl.der and root_ca_crl.der into --out;
    /// or of an SNP report from AMD's KDS (VCEK, ASK + ARK, CRL), verified with the report,
    /// written as vcek.der, cert_chain.pem (read with --certs DIR) and amd.crl (--crl); or of
    /// NVIDIA GPU evidence: the driver and VBIOS RIMs from the RIM service and, for the device
    /// chain, OCSP responses asked with a fresh nonce and verified (ocsp/*.der, read back by
    /// `evidence verify --platform nvidia --collateral DIR`).
    Fetch(FetchArgs),
}

/// `coco collateral fetch`.
#[derive(Args)]
pub struct FetchArgs {
    /// The platform of the evidence: tdx, snp or nvidia.
    #[arg(long, value_parser = ["tdx", "snp", "nvidia"])]
    platform: String,
    /// The evidence: a TDX quote (its PCK certificate names the FMSPC and the PCK CA) or an SNP
    /// report (its chip id and reported TCB name the VCEK).
    evidence: PathBuf,
    /// SNP: AMD's KDS base URL.
    #[arg(long, value_name = "URL", default_value = AMD_KDS)]
    kds: String,
    /// NVIDIA: the RIM service base URL.
    #[arg(long, value_name = "URL", default_value = coco_release::collateral::rim::NVIDIA_RIM_SERVICE)]
    rim_service: String,
    /// NVIDIA: the chip of a report that does not name it (Hopper: GH100).
    #[arg(long, default_value = "GH100")]
    chip: String,
    /// NVIDIA: the OCSP responder asked about the device chain's certificates.
    #[arg(long, value_name = "URL", default_value = coco_release::collateral::ocsp::NVIDIA_OCSP)]
    ocsp: String,
    /// NVIDIA: the device certificate chain of a raw report (PEM; the JSON wire evidence
    /// carries its own). Without a chain no OCSP response is fetched.
    #[arg(long, value_name = "FILE")]
    certs: Option<PathBuf>,
    /// SNP: the product of a version 2 report (milan, genoa, turin; later reports name it).
    #[arg(long, value_parser = ["milan", "genoa", "turin"])]
    product: Option<String>,
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
    let files: &[&str] = match a.platform.as_str() {
        "snp" => &SNP_FILES,
        "nvidia" => &NVIDIA_FILES,
        _ => &FILES,
    };
    if !a.force
        && let Some(f) = files.iter().map(|f| a.out.join(f)).find(|p| p.exists())
    {
        return Err(format!("--out: {} exists (--force replaces it)", f.display()).into());
    }
    if a.platform == "snp" {
        return snp(a, at);
    }
    if a.platform == "nvidia" {
        return nvidia(a, at);
    }
    let quote = crate::read_file(&a.evidence, None)?;
    let ids = pcs::quote_ids(&quote)?;
    let tls = client_tls(a)?;
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

/// The files written for SNP: the VCEK, ASK + ARK, and the CRL (not a certificate file, so
/// that `--certs DIR` reads the first two).
const SNP_FILES: [&str; 3] = ["vcek.der", "cert_chain.pem", "amd.crl"];

/// `coco collateral fetch --platform snp`.
fn snp(a: &FetchArgs, at: SystemTime) -> CmdResult {
    let report = crate::read_file(&a.evidence, None)?;
    let product = a.product.as_deref().and_then(|p| {
        let mut name = p.to_string();
        name[..1].make_ascii_uppercase();
        coco_evidence::snp::Product::from_name(&name)
    });
    let tls = client_tls(a)?;
    let head = report
        .get(..coco_evidence::snp::abi::REPORT_LEN)
        .unwrap_or(&report);
    let got = Kds::new(&a.kds, &tls)?.snp(head, product, at)?;
    std::fs::create_dir_all(&a.out).map_err(|e| format!("--out {}: {e}", a.out.display()))?;
    if let Some(v) = &got.vcek {
        write(&a.out.join("vcek.der"), v)?;
    }
    write(&a.out.join("cert_chain.pem"), &got.cert_chain)?;
    write(&a.out.join("amd.crl"), &got.crl)?;
    if a.json {
        outln!(
            "{}",
            serde_json::json!({"platform": "snp", "product": got.product.name().to_lowercase(), "out": a.out,
                               "vcek": got.vcek.is_some(), "files": SNP_FILES})
        );
    } else {
        eprintln!(
            "coco: SNP collateral ({}{}, ASK + ARK, CRL) verified with the report and written to {}",
            got.product.name(),
            if got.vcek.is_some() {
                " VCEK"
            } else {
                "; the VLEK comes from the cloud provider"
            },
            a.out.display()
        );
    }
    Ok(())
}

/// The files written for NVIDIA: the driver and VBIOS RIMs (`coco corim from-rims --driver
/// --vbios` reads them); OCSP responses go to `ocsp/`.
const NVIDIA_FILES: [&str; 2] = ["driver_rim.xml", "vbios_rim.swidtag"];

/// `coco collateral fetch --platform nvidia`: the RIMs of the (first) GPU's report, and OCSP
/// responses for every GPU's device chain when the chain is known.
fn nvidia(a: &FetchArgs, at: SystemTime) -> CmdResult {
    use coco_evidence::nvidia::{self, verify::ocsp_range};
    use coco_evidence::ocsp;
    use coco_release::collateral::ocsp::OcspClient;
    use coco_release::collateral::rim::{RimService, rim_ids};
    let bytes = crate::read_file(&a.evidence, None)?;
    let certs = match &a.certs {
        Some(p) => coco_evidence::x509::load_certs(p)?,
        None => Vec::new(),
    };
    // The chains whose certificates OCSP is asked about: verified first (pinned root, report
    // signature), so that nothing is asked about certificates that do not chain to NVIDIA.
    let opts = nvidia::VerifyOptions::at(at).with_certs(&certs);
    let (report, chains) = if nvidia::is_wire_json(&bytes) {
        let gpus = nvidia::verify_wire(&bytes, &opts)?;
        let first = gpus
            .first()
            .ok_or("the GPU evidence lists no GPU")?
            .report
            .clone();
        (first, gpus.iter().map(|g| g.chain.clone()).collect())
    } else {
        let report = nvidia::Report::parse(&bytes)?;
        let chains = if certs.is_empty() {
            Vec::new()
        } else {
            vec![nvidia::verify(report.clone(), &opts)?.chain.clone()]
        };
        (report, chains)
    };
    let chip = report.opaque.chip_info().unwrap_or_else(|| a.chip.clone());
    let (driver_id, vbios_id) = rim_ids(&report, &chip)?;
    let tls = client_tls(a)?;
    // Everything verified before anything is written: the OCSP answers (one per certificate,
    // shared certificates asked once), then the RIMs.
    let mut responses: Vec<(String, Vec<u8>)> = Vec::new();
    if !chains.is_empty() {
        let client = OcspClient::new(&a.ocsp, &tls)?;
        for chain in &chains {
            let root = &chain[chain.len() - 1];
            for (cert, issuer) in ocsp::links(chain, ocsp_range(chain.len())) {
                let name = format!("{}.der", cert.serial_hex());
                if responses.iter().any(|(n, _)| *n == name) {
                    continue;
                }
                let r = client.fetch(cert, issuer, root, at)?;
                responses.push((name, r.response.der().to_vec()));
            }
        }
    }
    let service = RimService::new(&a.rim_service, &tls)?;
    let driver = service.get(&driver_id, report.opaque.driver_version().as_deref(), at)?;
    let vbios = service.get(&vbios_id, report.opaque.vbios_version().as_deref(), at)?;
    std::fs::create_dir_all(&a.out).map_err(|e| format!("--out {}: {e}", a.out.display()))?;
    write(&a.out.join(NVIDIA_FILES[0]), &driver.bytes)?;
    write(&a.out.join(NVIDIA_FILES[1]), &vbios.bytes)?;
    if !responses.is_empty() {
        let dir = a.out.join("ocsp");
        std::fs::create_dir_all(&dir).map_err(|e| format!("--out {}: {e}", dir.display()))?;
        for (name, der) in &responses {
            write(&dir.join(name), der)?;
        }
    }
    if a.json {
        outln!(
            "{}",
            serde_json::json!({"platform": "nvidia", "driver_rim": driver.id, "vbios_rim": vbios.id,
                               "ocsp": responses.iter().map(|(n, _)| format!("ocsp/{n}")).collect::<Vec<_>>(),
                               "out": a.out, "files": NVIDIA_FILES})
        );
    } else {
        eprintln!(
            "coco: RIMs {} and {} verified and written to {}; {}",
            driver.id,
            vbios.id,
            a.out.display(),
            if responses.is_empty() {
                "no OCSP responses (a raw report needs --certs for its chain)".to_string()
            } else {
                format!("{} OCSP responses (good) in ocsp/", responses.len())
            }
        );
    }
    Ok(())
}

/// The TLS settings of the services asked (`--ca`, `--plain-http`).
fn client_tls(a: &FetchArgs) -> Result<ClientTls, Box<dyn std::error::Error>> {
    Ok(ClientTls {
        ca_pem: a
            .ca
            .as_deref()
            .map(|p| crate::read_file(p, Some("--ca")))
            .transpose()?,
        allow_plain_http: a.plain_http,
    })
}

/// Writes `bytes` to `path` whole or not at all (a temporary file renamed into place).
fn write(path: &Path, bytes: &[u8]) -> CmdResult {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}
