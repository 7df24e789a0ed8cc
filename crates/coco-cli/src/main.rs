//! `coco`: seal, unseal and inspect model weights; verify and appraise attestation evidence.
//!
//! Exit status: 0 success, 1 failure (one line on stderr saying why), 2 usage error; 141
//! when the reader of stdout went away (`coco ... | head`), as a process killed by SIGPIPE.

/// `println!` that ends the process quietly when stdout is closed instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(141);
            }
            eprintln!("coco: error: stdout: {e}");
            std::process::exit(1);
        }
    }};
}

mod appraisal;
mod collateral;
mod demo;
mod evidence;
mod progress;
mod release;
mod seal;
mod sim;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Confidential model deployment: sealed weights, attestation evidence, key release.
#[derive(Parser)]
#[command(name = "coco", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a 32-byte data key (mode 0600), or with --vendor an ECDSA P-384 signing key.
    Keygen {
        /// Where to write the key (refuses to overwrite).
        #[arg(long)]
        out: PathBuf,
        /// Generate a vendor manifest-signing key instead: OUT (PKCS#8 PEM) and OUT.pub (SPKI PEM).
        #[arg(long)]
        vendor: bool,
    },
    /// Seal a file or a model directory.
    Seal(seal::SealArgs),
    /// Unseal a sealed file or model directory (no output is left on any failure).
    Unseal(seal::UnsealArgs),
    /// Show a sealed file's header or a sealed directory's manifest (no key needed).
    Inspect {
        /// A sealed file or a sealed model directory.
        input: PathBuf,
        /// Print exactly one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Attestation evidence.
    #[command(subcommand)]
    Evidence(evidence::EvidenceCommand),
    /// CoRIM reference values: inspect, build from TOML, sign.
    #[command(subcommand)]
    Corim(appraisal::CorimCommand),
    /// Verify evidence, appraise it against CoRIM reference values and a policy, print an EAR.
    Appraise(appraisal::AppraiseArgs),
    /// EAT Attestation Results.
    #[command(subcommand)]
    Ear(EarCommand),
    /// Run the key-release service over HTTP.
    Serve(release::ServeArgs),
    /// The key-release service's key store (files, or sealed by a KEK in an HSM).
    #[command(subcommand)]
    Keystore(release::KeystoreCommand),
    /// Inside the confidential VM: attest through configfs-tsm and fetch a data key.
    FetchKey(release::FetchArgs),
    /// Run the end-to-end flow on a generated sample model.
    Demo(demo::DemoArgs),
    /// A simulated TEE for demos and tests without hardware.
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// Confidential Containers init-data (the TOML a pod hands its guest).
    #[command(subcommand)]
    Initdata(InitdataCommand),
    /// Fetch the collateral evidence needs from the vendor's service, verified.
    #[command(subcommand)]
    Collateral(collateral::CollateralCommand),
}

/// `coco initdata ...`.
#[derive(Subcommand)]
enum InitdataCommand {
    /// Print the value the TEE field holds for an init-data document (hex): TDX MRCONFIGID
    /// (48 bytes) or SNP HOST_DATA (32 bytes), the document's hash zero-padded or truncated.
    Digest {
        /// The init-data TOML (its exact bytes are hashed).
        file: PathBuf,
        /// tdx or snp.
        #[arg(long, value_parser = ["tdx", "snp"])]
        platform: String,
    },
}

fn initdata(c: &InitdataCommand) -> CmdResult {
    use coco_core::initdata::{Field, InitData};
    match c {
        InitdataCommand::Digest { file, platform } => {
            let d = InitData::parse(&read_file(file, None)?)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            let field = if platform == "tdx" {
                Field::TdxMrConfigId
            } else {
                Field::SnpHostData
            };
            outln!("{}", hex::encode(d.field_value(field)));
            Ok(())
        }
    }
}

/// `coco ear ...`.
#[derive(Subcommand)]
enum EarCommand {
    /// Verify an EAR (JWT or CWT) with trusted keys and print its claims.
    Verify(appraisal::EarVerifyArgs),
}

/// Whether the command was asked for JSON (`--json`): its failure is then a JSON object on
/// stdout too.
fn wants_json(c: &Command) -> bool {
    match c {
        Command::Inspect { json, .. } => *json,
        Command::Corim(appraisal::CorimCommand::Inspect(a)) => a.json,
        Command::Appraise(a) => a.json,
        Command::Ear(EarCommand::Verify(a)) => a.json,
        Command::Collateral(collateral::CollateralCommand::Fetch(a)) => a.json,
        _ => false,
    }
}

/// `{"kind", "message", ...}` of a command's error: the typed error's own JSON where it has
/// one, its kind otherwise.
fn error_object(e: &(dyn std::error::Error + 'static)) -> serde_json::Value {
    use serde_json::json;
    let message = e.to_string().replace('\n', " ");
    if let Some(r) = e.downcast_ref::<coco_release::ReleaseError>() {
        return r.to_json();
    }
    let kind = if let Some(x) = e.downcast_ref::<coco_release::collateral::pcs::FetchError>() {
        x.kind()
    } else if let Some(x) = e.downcast_ref::<coco_evidence::EvidenceError>() {
        x.kind()
    } else if let Some(x) = e.downcast_ref::<coco_core::CoreError>() {
        x.kind()
    } else if let Some(x) = e.downcast_ref::<coco_seal::SealError>() {
        match x {
            coco_seal::SealError::WrongKey => "wrong_key",
            coco_seal::SealError::Tampered { .. }
            | coco_seal::SealError::Truncated { .. }
            | coco_seal::SealError::Extended { .. } => "tampered",
            coco_seal::SealError::Manifest(_) => "manifest",
            coco_seal::SealError::File { .. } | coco_seal::SealError::Io(_) => "io",
            _ => "format",
        }
    } else if e.downcast_ref::<std::io::Error>().is_some()
        || e.downcast_ref::<FileError>().is_some()
    {
        "io"
    } else {
        "usage"
    };
    json!({"kind": kind, "message": message})
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The documentation test checks every command line of the README against the real
    // argument parser without running it.
    if std::env::var_os("COCO_PARSE_ONLY").is_some() {
        eprintln!("coco: COCO_PARSE_ONLY is set: arguments parsed, nothing run");
        return ExitCode::SUCCESS;
    }
    let json = wants_json(&cli.command);
    let result = match cli.command {
        Command::Keygen { out, vendor } => seal::keygen(&out, vendor),
        Command::Seal(a) => seal::seal(&a),
        Command::Unseal(a) => seal::unseal(&a),
        Command::Inspect { input, json } => seal::inspect(&input, json),
        Command::Evidence(evidence::EvidenceCommand::Verify(a)) => return evidence::verify(&a),
        Command::Evidence(evidence::EvidenceCommand::CollectGpus(a)) => {
            return evidence::collect_gpus(&a);
        }
        Command::Corim(c) => appraisal::corim(&c),
        Command::Appraise(a) => match appraisal::appraise_cmd(&a) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
        Command::Ear(EarCommand::Verify(a)) => appraisal::ear_verify(&a),
        Command::Serve(a) => release::serve(&a),
        Command::Keystore(c) => release::keystore(&c),
        Command::FetchKey(a) => release::fetch(&a),
        Command::Demo(a) => demo::run(&a),
        Command::Sim(c) => sim::run(&c),
        Command::Initdata(c) => initdata(&c),
        Command::Collateral(c) => collateral::run(&c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                outln!(
                    "{}",
                    serde_json::json!({ "error": error_object(e.as_ref()) })
                );
            }
            let msg = e.to_string().replace('\n', " ");
            eprintln!("coco: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The error type of the commands: a message for the one-line report.
pub type CmdResult = Result<(), Box<dyn std::error::Error>>;

/// A file the user named could not be read: the path, the flag it came from, the cause.
#[derive(Debug)]
pub struct FileError {
    /// The user's path.
    pub path: PathBuf,
    /// The flag that named it, if any.
    pub flag: Option<&'static str>,
    /// What the operating system said.
    pub source: std::io::Error,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(flag) = self.flag {
            write!(f, "{flag} ")?;
        }
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Reads a file the user named (by `flag`, if any), with both in the error.
pub fn read_file(path: &std::path::Path, flag: Option<&'static str>) -> Result<Vec<u8>, FileError> {
    std::fs::read(path).map_err(|source| FileError {
        path: path.to_path_buf(),
        flag,
        source,
    })
}

#[cfg(test)]
mod tests {
    /// Every subcommand's arguments are well formed (unique names, valid requirements).
    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
