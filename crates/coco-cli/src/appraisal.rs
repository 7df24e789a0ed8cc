//! `coco corim inspect|build|sign`, `coco appraise`, `coco ear verify`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Subcommand};
use coco_core::appraise::ReferenceValues;
use coco_core::corim::cose::{self, SignedCorim};
use coco_core::corim::{Corim, DecodeOptions, Validity};
use coco_core::ear::{Ear, Status};
use coco_core::keys::{PublicKey, SigningKey};
use coco_core::policy::Policy;
use coco_core::profile::build;
use serde_json::{Value, json};

use crate::CmdResult;

fn err(msg: impl Into<String>) -> Box<dyn std::error::Error> {
    msg.into().into()
}

fn read(p: &Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    Ok(crate::read_file(p, None)?)
}

fn now_or(at: &Option<String>) -> Result<u64, Box<dyn std::error::Error>> {
    match at {
        Some(s) => coco_core::time::unix_rfc3339(s)
            .ok_or_else(|| err(format!("--at {s:?} is not RFC 3339"))),
        None => Ok(coco_core::time::unix(SystemTime::now())),
    }
}

/// The public keys of `--key` files (JWK, SPKI PEM or DER), each error naming the flag and file.
fn keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>, Box<dyn std::error::Error>> {
    paths
        .iter()
        .map(|p| {
            PublicKey::parse(&crate::read_file(p, Some("--key"))?).map_err(|e| {
                err(format!(
                    "--key {}: {e} (a public key: JWK, SPKI PEM or DER, e.g. the .pub of \
                     `coco keygen --vendor`)",
                    p.display()
                ))
            })
        })
        .collect()
}

/// `coco corim ...`.
#[derive(Subcommand)]
pub enum CorimCommand {
    /// Decode a CoRIM (signed or not) and show its reference values.
    Inspect(InspectArgs),
    /// Build an unsigned CoRIM of coco's profile from a readable TOML file.
    Build {
        /// The reference values (see docs/PROFILE.md).
        refs: PathBuf,
        /// Where to write the CoRIM (CBOR).
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a CoRIM as COSE_Sign1 (ES256 or ES384 by the key's curve).
    Sign {
        /// The unsigned CoRIM.
        corim: PathBuf,
        /// The signing key (PKCS#8 PEM, e.g. from `coco keygen --vendor`).
        #[arg(long)]
        key: PathBuf,
        /// The signer's name (corim-meta).
        #[arg(long)]
        signer: String,
        /// Signature not valid after this time (RFC 3339).
        #[arg(long)]
        not_after: Option<String>,
        /// Where to write the signed CoRIM.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify NVIDIA's signed driver and VBIOS RIMs (XML-DSig, chain to the pinned NVIDIA
    /// CoRIM signing root) and write their active measurements as an unsigned CoRIM of
    /// coco's profile (SPDM index = RIM index + 1).
    FromRims {
        /// The driver RIM (e.g. NV_GPU_DRIVER_GH100_550.144.03.xml).
        #[arg(long)]
        driver: Option<PathBuf>,
        /// The VBIOS RIM (e.g. 1010_0200_882_96005E0001_PROD.swidtag).
        #[arg(long)]
        vbios: Option<PathBuf>,
        /// The CoRIM id (default: derived from the RIM versions).
        #[arg(long)]
        id: Option<String>,
        /// Check the RIM certificates as of this time (RFC 3339; default now).
        #[arg(long)]
        at: Option<String>,
        /// Where to write the CoRIM (CBOR).
        #[arg(long)]
        out: PathBuf,
    },
}

/// `coco corim inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// The CoRIM file (CBOR).
    file: PathBuf,
    /// A trusted signer key (JWK, SPKI PEM or DER); repeatable. Only these are ever trusted.
    #[arg(long = "key", value_name = "FILE")]
    keys: Vec<PathBuf>,
    /// Check validity windows as of this time (RFC 3339; default now).
    #[arg(long)]
    at: Option<String>,
    /// Accept NVIDIA's legacy wire shape (tags 500/502, bare payload and tags).
    #[arg(long)]
    legacy: bool,
    /// The signer's certificate chain (PEM, leaf first) of a CoRIM that names its signer only
    /// by URL and thumbprint: it is the signer when the leaf's thumbprint matches and the chain
    /// leads to NVIDIA's pinned CoRIM signing root; the signature is then checked with its key.
    #[arg(long, value_name = "FILE", conflicts_with = "fetch_signer")]
    signer_cert: Option<PathBuf>,
    /// Fetch that certificate chain from the URL the CoRIM names (then as --signer-cert).
    #[arg(long)]
    fetch_signer: bool,
    /// With --fetch-signer: trust only this CA bundle (PEM) for the server's TLS certificate.
    #[arg(long, value_name = "FILE", requires = "fetch_signer")]
    ca: Option<PathBuf>,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Where the signer certificate of a CoRIM named by URL and thumbprint comes from.
pub enum SignerCert<'a> {
    /// Not given: the signature is checked with `--key` keys only.
    None,
    /// A PEM chain read from a file.
    Pem(Vec<u8>),
    /// Fetched from the CoRIM's locator URL with these TLS settings.
    Fetch(&'a coco_release::tls::ClientTls),
}

fn decode_opts(legacy: bool) -> DecodeOptions {
    DecodeOptions {
        legacy,
        bare_text_profile: legacy,
    }
}

/// Loads a CoRIM: signed ones must verify under `trusted` at `at`; unsigned ones come from
/// local files and are accepted as configuration.
pub fn load_corim(
    path: &Path,
    trusted: &[PublicKey],
    at: u64,
    legacy: bool,
    signer_cert: SignerCert<'_>,
) -> Result<(Corim, Value), Box<dyn std::error::Error>> {
    let bytes = read(path)?;
    let opts = decode_opts(legacy);
    if cose::is_signed(&bytes) {
        let s = SignedCorim::decode(&bytes, &opts)?;
        // A signer named by URL and thumbprint, given or fetched: its key, once its
        // certificate is the thumbprinted one under NVIDIA's CoRIM root.
        let locator = s
            .corim
            .dependent_rims
            .iter()
            .find(|l| l.thumbprint.is_some());
        let pem = match (&signer_cert, locator) {
            (SignerCert::None, _) => None,
            (_, None) => {
                return Err(err(
                    "--signer-cert/--fetch-signer: the CoRIM names no signer by URL and thumbprint",
                ));
            }
            (SignerCert::Pem(p), Some(_)) => Some(p.clone()),
            (SignerCert::Fetch(tls), Some(l)) => {
                Some(coco_release::collateral::rim::corim_signer(&l.href, tls)?)
            }
        };
        let signer = match (pem, locator.and_then(|l| l.thumbprint.as_ref())) {
            (Some(pem), Some(thumb)) => Some(coco_evidence::nvidia::corim_signer::signer_key(
                &pem,
                thumb,
                coco_evidence::nvidia::roots::rim_root(),
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(at),
            )?),
            _ => None,
        };
        let verified = match &signer {
            Some((key, _)) => Some(s.verify(std::slice::from_ref(key), at).map(|_| ())?),
            None if trusted.is_empty() => None,
            None => Some(s.verify(trusted, at).map(|_| ())?),
        };
        // What can be said of the signature: verified under a given key, or why not.
        let signature = match (&verified, s.corim.dependent_rims.first()) {
            (Some(_), _) if signer.is_some() => format!(
                "verified (signer certificate {:?}: thumbprint and chain to NVIDIA's CoRIM root)",
                signer
                    .as_ref()
                    .map(|(_, c)| c.subject_cn())
                    .unwrap_or_default()
            ),
            (Some(_), _) => "verified".to_string(),
            (None, Some(l)) if trusted.is_empty() => format!(
                "signer unavailable: referenced only by {} and its thumbprint (give its key with \
                 --key)",
                l.href
            ),
            _ => "not checked (no --key)".to_string(),
        };
        let info = json!({
            "signed": true,
            "signature": signature,
            "signature_verified": verified.is_some(),
            "alg": if s.alg == -7 { "ES256" } else { "ES384" },
            "signer": s.signer.as_ref().map(|x| json!({"name": x.name, "uri": x.uri})),
        });
        Ok((s.corim, info))
    } else {
        let c = Corim::decode(&bytes, &opts)?;
        if let Some(v) = c.validity {
            v.check(at, "CoRIM (rim-validity)")?;
        }
        Ok((c, json!({"signed": false, "signature_verified": false})))
    }
}

/// Loads reference values: every CoRIM must be unsigned (local configuration) or verify under
/// one of the keys in `key_files` at `now`.
pub fn load_references(
    files: &[PathBuf],
    key_files: &[PathBuf],
    now: u64,
    legacy: bool,
) -> Result<ReferenceValues, Box<dyn std::error::Error>> {
    let trusted = keys(key_files)?;
    let bytes = files
        .iter()
        .map(|f| read(f))
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
    ReferenceValues::from_cbor_with(&refs, &trusted, now, &decode_opts(legacy)).map_err(|e| {
        err(format!(
            "reference values ({}): {e}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// Runs `coco corim ...`.
pub fn corim(cmd: &CorimCommand) -> CmdResult {
    match cmd {
        CorimCommand::Inspect(a) => {
            let at = now_or(&a.at)?;
            let tls = coco_release::tls::ClientTls {
                ca_pem: a
                    .ca
                    .as_deref()
                    .map(|p| crate::read_file(p, Some("--ca")))
                    .transpose()?,
                allow_plain_http: false,
            };
            let signer = match (&a.signer_cert, a.fetch_signer) {
                (Some(p), _) => SignerCert::Pem(crate::read_file(p, Some("--signer-cert"))?),
                (None, true) => SignerCert::Fetch(&tls),
                (None, false) => SignerCert::None,
            };
            let (c, info) = load_corim(&a.file, &keys(&a.keys)?, at, a.legacy, signer)?;
            let mut j = c.to_json();
            for (k, v) in info.as_object().expect("object") {
                j[k] = v.clone();
            }
            if a.json {
                outln!("{j}");
            } else {
                outln!("{}", serde_json::to_string_pretty(&j)?);
                if j["signed"] == true && j["signature_verified"] == false {
                    eprintln!(
                        "coco: note: signed, but no --key given: the signature was not checked"
                    );
                }
            }
            Ok(())
        }
        CorimCommand::FromRims {
            driver,
            vbios,
            id,
            at,
            out,
        } => {
            use coco_evidence::nvidia::rim;
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(now_or(at)?);
            let load = |p: &Option<PathBuf>| -> Result<_, Box<dyn std::error::Error>> {
                p.as_ref()
                    .map(|p| {
                        rim::RimDocument::parse(&read(p)?)
                            .and_then(|doc| rim::verify(doc, at))
                            .map_err(|e| err(format!("{}: {e}", p.display())))
                    })
                    .transpose()
            };
            let (d, v) = (load(driver)?, load(vbios)?);
            let chip = match (&d, &v) {
                (None, None) => return Err(err("give --driver, --vbios or both")),
                (Some(x), Some(y)) if x.name != y.name => {
                    return Err(err(format!(
                        "the driver RIM is for {}, the VBIOS RIM for {}",
                        x.name, y.name
                    )));
                }
                (Some(x), _) | (None, Some(x)) => x.name.clone(),
            };
            let versions: Vec<&str> = [&d, &v]
                .iter()
                .filter_map(|r| r.as_ref().map(|r| r.colloquial_version.as_str()))
                .collect();
            let id = id
                .clone()
                .unwrap_or_else(|| format!("nvidia-{chip}-{}", versions.join("-")));
            let toml = rim::reference_toml(
                &chip,
                d.as_ref().map(|r| &r.rim),
                v.as_ref().map(|r| &r.rim),
            )?;
            let bytes = build::build(&format!("id = {id:?}\n{toml}"))?;
            write_new(out, &bytes)?;
            eprintln!(
                "wrote {} (chip {chip}, {}, {} bytes)",
                out.display(),
                versions.join(" + "),
                bytes.len()
            );
            Ok(())
        }
        CorimCommand::Build { refs, out } => {
            let text = String::from_utf8(read(refs)?).map_err(|_| err("REFS.toml is not UTF-8"))?;
            let bytes = build::build(&text)?;
            let c = Corim::decode(&bytes, &DecodeOptions::default())?;
            ReferenceValues::from_corims(std::slice::from_ref(&c))?;
            write_new(out, &bytes)?;
            let n: usize = c.comids.iter().map(|m| m.reference.len()).sum();
            eprintln!(
                "wrote {} ({n} reference value{}, {} bytes)",
                out.display(),
                if n == 1 { "" } else { "s" },
                bytes.len()
            );
            Ok(())
        }
        CorimCommand::Sign {
            corim,
            key,
            signer,
            not_after,
            out,
        } => {
            let bytes = read(corim)?;
            Corim::decode(&bytes, &DecodeOptions::default())?;
            let pem = String::from_utf8(read(key)?).map_err(|_| err("the key is not PEM"))?;
            let k = SigningKey::from_pkcs8_pem(&pem)?;
            let validity = not_after
                .as_deref()
                .map(|t| {
                    coco_core::time::unix_rfc3339(t)
                        .map(|na| Validity {
                            not_before: None,
                            not_after: Some(na),
                        })
                        .ok_or_else(|| err(format!("--not-after {t:?} is not RFC 3339")))
                })
                .transpose()?;
            let signed = cose::sign(&bytes, &k, signer, validity)?;
            write_new(out, &signed)?;
            eprintln!(
                "wrote {} ({} signature by {signer:?})",
                out.display(),
                k.public().jose_alg()
            );
            Ok(())
        }
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> CmdResult {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| err(format!("{}: {e}", path.display())))?;
    f.write_all(bytes)?;
    Ok(())
}

/// What a decision is based on: reference values, their signers, the policy (shared by
/// `coco appraise` and `coco serve`).
#[derive(Args)]
pub struct DecisionArgs {
    /// Reference values: a CoRIM file (signed or not); repeatable.
    #[arg(long = "reference", required = true, value_name = "FILE")]
    pub references: Vec<PathBuf>,
    /// A trusted CoRIM signer key; repeatable. Signed CoRIMs must verify under one of them.
    #[arg(long = "corim-key", value_name = "FILE")]
    pub corim_keys: Vec<PathBuf>,
    /// The policy (TOML); default: the strict built-in policy.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Read --reference CoRIMs in NVIDIA's TCG-era shape too (tags 500/502, a bare payload,
    /// CoMIDs as bare byte strings: the RIM service's). Signed ones still verify under
    /// --corim-key.
    #[arg(long)]
    pub legacy_corim: bool,
}

impl DecisionArgs {
    /// The verified reference values and the policy, at `now`.
    pub fn load(&self, now: u64) -> Result<(ReferenceValues, Policy), Box<dyn std::error::Error>> {
        let refs = load_references(&self.references, &self.corim_keys, now, self.legacy_corim)?;
        let policy = match &self.policy {
            Some(p) => Policy::from_toml(
                &String::from_utf8(read(p)?).map_err(|_| err("policy is not UTF-8"))?,
            )?,
            None => Policy::default(),
        };
        Ok((refs, policy))
    }
}

/// `coco appraise`.
#[derive(Args)]
pub struct AppraiseArgs {
    /// Evidence as PLATFORM:FILE (snp, azure-snp, tdx, nvidia); repeatable. CPU evidence
    /// becomes submodules cpu0, cpu1, ..., GPUs gpu0, gpu1, ... (NVIDIA evidence is best given
    /// in the JSON wire format, which carries each GPU's chain).
    #[arg(long = "evidence", required = true)]
    evidence: Vec<String>,
    /// Certificates for SNP evidence, or for one raw NVIDIA report (PEM bundle or directory).
    /// Repeatable.
    #[arg(long, value_name = "PATH")]
    certs: Vec<PathBuf>,
    /// The nonce the GPU reports must answer (hex, 32 bytes).
    #[arg(long)]
    nonce: Option<String>,
    /// AMD's CRL for SNP evidence (DER or PEM, signed by the pinned ARK).
    #[arg(long)]
    crl: Option<PathBuf>,
    /// Collateral directory for TDX evidence.
    #[arg(long)]
    collateral: Option<PathBuf>,
    /// Accept evidence without revocation data (the policy may still refuse it).
    #[arg(long)]
    no_revocation_check: bool,
    #[command(flatten)]
    decision: DecisionArgs,
    /// Appraise as of this time (RFC 3339; default now).
    #[arg(long)]
    at: Option<String>,
    /// Sign the EAR with this PKCS#8 PEM key and print the JWT instead of JSON.
    #[arg(long)]
    sign_key: Option<PathBuf>,
    /// Print exactly one JSON object (the EAR) on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `coco appraise`: exit 0 when the EAR is affirming (or warning), 1 otherwise.
pub fn appraise_cmd(a: &AppraiseArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let now = now_or(&a.at)?;
    let (refs, policy) = a.decision.load(now)?;
    let opts = coco_evidence::api::Options {
        certs: a.certs.clone(),
        collateral: a.collateral.clone(),
        at: Some(coco_core::time::format_rfc3339(now)),
        no_revocation_check: a.no_revocation_check,
        nonce: a.nonce.clone(),
        crl: a.crl.clone(),
        ..Default::default()
    };
    let mut files = Vec::new();
    for e in &a.evidence {
        let (platform, file) = e
            .split_once(':')
            .ok_or_else(|| err(format!("--evidence {e:?}: expected PLATFORM:FILE")))?;
        files.push((platform, read(Path::new(file))?));
    }
    let list: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (*p, b.as_slice())).collect();
    let outcome = coco_release::decision::decide_offline(refs, policy, &list, &opts)?;
    let (ear, findings) = (&outcome.ear, &outcome.findings);
    let overall = ear.overall();
    match &a.sign_key {
        Some(k) => {
            let pem = String::from_utf8(read(k)?).map_err(|_| err("the key is not PEM"))?;
            outln!("{}", ear.to_jwt(&SigningKey::from_pkcs8_pem(&pem)?));
        }
        None if a.json => outln!("{}", ear.to_json()),
        None => outln!("{}", serde_json::to_string_pretty(&ear.to_json())?),
    }
    for f in findings {
        eprintln!("coco: {}", f.reason());
    }
    eprintln!("coco: appraisal: {}", overall.name());
    Ok(if overall <= Status::Warning && overall != Status::None {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `coco ear verify`.
#[derive(Args)]
pub struct EarVerifyArgs {
    /// The EAR: a file holding a JWT or a CWT, or the JWT itself.
    token: String,
    /// A trusted EAR signer key (JWK, SPKI PEM or DER); repeatable. Only these are trusted.
    #[arg(long = "key", required = true, value_name = "FILE")]
    keys: Vec<PathBuf>,
    /// Check expiry as of this time (RFC 3339; default now).
    #[arg(long)]
    at: Option<String>,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `coco ear verify`: exit 0 when the EAR verifies (whatever its status), 1 otherwise.
pub fn ear_verify(a: &EarVerifyArgs) -> CmdResult {
    let at = now_or(&a.at)?;
    let trusted = keys(&a.keys)?;
    let p = Path::new(&a.token);
    let bytes = if p.is_file() {
        read(p)?
    } else {
        a.token.as_bytes().to_vec()
    };
    let ear = Ear::from_token(&bytes, &trusted, at)?;
    let j = ear.to_json();
    if a.json {
        outln!("{j}");
    } else {
        outln!("{}", serde_json::to_string_pretty(&j)?);
        eprintln!("coco: EAR verified: {}", ear.overall().name());
    }
    Ok(())
}
