//! Confidential Containers init-data: the TOML document a pod carries to its guest
//! (`io.katacontainers.config.hypervisor.cc_init_data`), bound into the launch measurement
//! through the TEE's configuration field.
//!
//! ```toml
//! version = "0.1.0"
//! algorithm = "sha384"          # sha256 | sha384 | sha512
//! [data]
//! "aa.toml" = '''...'''
//! "policy.rego" = '''...'''
//! ```
//!
//! Its digest is the `algorithm` hash of the document's exact bytes, zero-padded or truncated to
//! the field: TDX `MRCONFIGID` (48 bytes), SNP `HOST_DATA` (32 bytes). Parsing checks the
//! document's shape (version, algorithm, `[data]` of strings) so that a digest is never computed
//! over something the guest would refuse.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::error::{CoreError, Result};

/// The hash the document names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// `sha256`, `sha384` or `sha512`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The hash of `bytes`.
    pub fn digest(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::Sha256 => Sha256::digest(bytes).to_vec(),
            Algorithm::Sha384 => Sha384::digest(bytes).to_vec(),
            Algorithm::Sha512 => Sha512::digest(bytes).to_vec(),
        }
    }
}

/// The TEE field an init-data digest is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// TDX `MRCONFIGID`, 48 bytes.
    TdxMrConfigId,
    /// SNP `HOST_DATA`, 32 bytes.
    SnpHostData,
}

impl Field {
    /// The field's length in bytes.
    pub fn len(self) -> usize {
        match self {
            Field::TdxMrConfigId => 48,
            Field::SnpHostData => 32,
        }
    }

    /// Never empty (a field has a fixed, non-zero length).
    pub fn is_empty(self) -> bool {
        false
    }
}

/// A parsed init-data document with its exact bytes.
#[derive(Debug, Clone)]
pub struct InitData {
    bytes: Vec<u8>,
    /// The document's `version`.
    pub version: String,
    /// The document's `algorithm`.
    pub algorithm: Algorithm,
    /// The `[data]` entries (file name -> content).
    pub data: BTreeMap<String, String>,
}

fn bad(reason: impl Into<String>) -> CoreError {
    CoreError::malformed("init-data", reason)
}

impl InitData {
    /// Parses the document (UTF-8 TOML: `version`, `algorithm`, `[data]` of strings).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let doc: toml::Table = toml::from_str(text).map_err(|e| bad(format!("not TOML: {e}")))?;
        let version = doc
            .get("version")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("no `version` string"))?
            .to_string();
        if version != "0.1.0" {
            return Err(bad(format!(
                "version {version:?} (this library reads 0.1.0)"
            )));
        }
        let algorithm = match doc.get("algorithm").and_then(|v| v.as_str()) {
            Some("sha256") => Algorithm::Sha256,
            Some("sha384") => Algorithm::Sha384,
            Some("sha512") => Algorithm::Sha512,
            Some(a) => return Err(bad(format!("algorithm {a:?}: sha256, sha384 or sha512"))),
            None => return Err(bad("no `algorithm` string")),
        };
        let mut data = BTreeMap::new();
        if let Some(d) = doc.get("data") {
            let t = d.as_table().ok_or_else(|| bad("`data` is not a table"))?;
            for (k, v) in t {
                let v = v
                    .as_str()
                    .ok_or_else(|| bad(format!("data.{k:?} is not a string")))?;
                data.insert(k.clone(), v.to_string());
            }
        }
        if let Some(k) = doc
            .keys()
            .find(|k| !matches!(k.as_str(), "version" | "algorithm" | "data"))
        {
            return Err(bad(format!("unknown key {k:?}")));
        }
        Ok(Self {
            bytes: bytes.to_vec(),
            version,
            algorithm,
            data,
        })
    }

    /// The document's exact bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The `algorithm` hash of the exact bytes.
    pub fn digest(&self) -> Vec<u8> {
        self.algorithm.digest(&self.bytes)
    }

    /// The value the TEE `field` holds for this document: the digest, zero-padded or
    /// truncated to the field's length.
    pub fn field_value(&self, field: Field) -> Vec<u8> {
        let mut d = self.digest();
        d.resize(field.len(), 0);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\n\"aa.toml\" = '''\n[token_configs]\n'''\n";

    #[test]
    fn digest_padded_or_truncated_to_the_field() {
        let d = InitData::parse(DOC.as_bytes()).unwrap();
        assert_eq!(d.algorithm, Algorithm::Sha384);
        assert_eq!(d.data.len(), 1);
        let full = Sha384::digest(DOC.as_bytes()).to_vec();
        assert_eq!(d.field_value(Field::TdxMrConfigId), full);
        assert_eq!(d.field_value(Field::SnpHostData), full[..32]);
        let doc256 = DOC.replace("sha384", "sha256");
        let d = InitData::parse(doc256.as_bytes()).unwrap();
        let mut padded = Sha256::digest(doc256.as_bytes()).to_vec();
        assert_eq!(d.field_value(Field::SnpHostData), padded);
        padded.resize(48, 0);
        assert_eq!(d.field_value(Field::TdxMrConfigId), padded);
    }

    #[test]
    fn malformed_documents_are_refused() {
        for bad in [
            "algorithm = \"sha384\"\n",
            "version = \"0.2.0\"\nalgorithm = \"sha384\"\n",
            "version = \"0.1.0\"\nalgorithm = \"md5\"\n",
            "version = \"0.1.0\"\nalgorithm = \"sha384\"\ndata = 3\n",
            "version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\nx = 1\n",
            "version = \"0.1.0\"\nalgorithm = \"sha384\"\nextra = \"\"\n",
            "not toml = = =",
        ] {
            assert!(
                matches!(
                    InitData::parse(bad.as_bytes()),
                    Err(CoreError::Malformed { .. })
                ),
                "{bad}"
            );
        }
        assert!(InitData::parse(&[0xff, 0xfe]).is_err());
    }
}
