//! Reference values from verified CoRIMs of known profiles, by environment.

use crate::claims::Platform;
use crate::corim::compare;
use crate::corim::{Corim, Mkey, ValueTriple};
use crate::error::{CoreError, Result};
use crate::profile;

/// Reference values from verified CoRIMs of known profiles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReferenceValues {
    pub(crate) triples: Vec<ValueTriple>,
    /// The ids of the CoRIMs the values came from.
    pub sources: Vec<String>,
}

impl ReferenceValues {
    /// Collects the reference triples of `corims`. A CoRIM without a profile, or with a profile
    /// this crate does not implement, is rejected as a whole (draft-ietf-rats-corim); so is one
    /// using negative (extension) measurement keys, which this profile does not define.
    pub fn from_corims(corims: &[Corim]) -> Result<Self> {
        let mut out = ReferenceValues::default();
        for c in corims {
            let p = c.profile.as_ref().map(|p| p.to_text()).unwrap_or_default();
            if !profile::is_known(&p) {
                return Err(CoreError::UnknownProfile {
                    document: format!("CoRIM {:?}", c.id.to_text()),
                    profile: p,
                });
            }
            for comid in &c.comids {
                // AMD's SNP profile (and Veraison's trust-anchor rule): an attest-key triple
                // names the ARK by vendor and model.
                for t in &comid.attest_key {
                    let class = t.environment.class.as_ref();
                    if class.is_none_or(|c| c.vendor.is_none() || c.model.is_none()) {
                        return Err(CoreError::Profile(format!(
                            "CoMID {:?}: an attest-key triple needs both vendor and model",
                            comid.tag_id.to_text()
                        )));
                    }
                }
                for t in &comid.reference {
                    let snp = t
                        .environment
                        .class
                        .as_ref()
                        .and_then(|c| c.class_id.as_ref())
                        .is_some_and(|id| {
                            [profile::SNP_CLASS_VCEK, profile::SNP_CLASS_VLEK]
                                .iter()
                                .any(|oid| {
                                    *id == ciborium::value::Value::Tag(
                                        111,
                                        Box::new(ciborium::value::Value::Bytes(oid.to_vec())),
                                    )
                                })
                        });
                    if snp
                        && t.measurements
                            .iter()
                            .any(|m| !matches!(m.mkey, Some(Mkey::Uint(_))))
                    {
                        return Err(CoreError::Profile(format!(
                            "CoMID {:?}: every SNP measurement needs an unsigned-integer mkey",
                            comid.tag_id.to_text()
                        )));
                    }
                    for m in &t.measurements {
                        if m.mkey.is_none() {
                            return Err(CoreError::Profile(format!(
                                "CoMID {:?}: an anonymous measurement cannot be appraised under {p}",
                                comid.tag_id.to_text()
                            )));
                        }
                        if let Some((k, _)) = m.mval.extensions.first() {
                            return Err(CoreError::Profile(format!(
                                "CoMID {:?}: measurement key {k} is not defined by {p}",
                                comid.tag_id.to_text()
                            )));
                        }
                    }
                    out.triples.push(t.clone());
                }
            }
            out.sources.push(c.id.to_text());
        }
        Ok(out)
    }

    /// Reference values from a REFS.toml document (`coco corim build`'s input, see
    /// docs/PROFILE.md): local configuration, built and read in one step.
    ///
    /// ```
    /// let r = coco_core::appraise::ReferenceValues::from_refs_toml("id = \"r\"\n[sample]\nsvn_min = 1\n").unwrap();
    /// assert_eq!(r.len(), 1);
    /// ```
    pub fn from_refs_toml(text: &str) -> Result<Self> {
        let cbor = crate::profile::build::build(text)?;
        let corim = Corim::decode(&cbor, &crate::corim::DecodeOptions::default())?;
        Self::from_corims(&[corim])
    }

    /// Reads reference values from CoRIM files' bytes: a signed CoRIM must verify under one
    /// of `trusted` at `at` (a signed CoRIM with no trusted key is an error, never read
    /// unverified); an unsigned one is local configuration, its validity window checked at
    /// `at`.
    pub fn from_cbor(
        corims: &[&[u8]],
        trusted: &[crate::keys::PublicKey],
        at: u64,
    ) -> Result<Self> {
        Self::from_cbor_with(corims, trusted, at, &crate::corim::DecodeOptions::default())
    }

    /// [`Self::from_cbor`] with decoding options: `opts.legacy` reads NVIDIA's TCG-era shape
    /// (tags 500/502, a bare corim-map payload, CoMIDs as bare byte strings); a signed CoRIM
    /// must still verify under one of `trusted`.
    pub fn from_cbor_with(
        corims: &[&[u8]],
        trusted: &[crate::keys::PublicKey],
        at: u64,
        opts: &crate::corim::DecodeOptions,
    ) -> Result<Self> {
        use crate::corim::cose;
        let opts = *opts;
        let mut out = Vec::with_capacity(corims.len());
        for (i, bytes) in corims.iter().enumerate() {
            if cose::is_signed(bytes) {
                if trusted.is_empty() {
                    return Err(CoreError::Profile(format!(
                        "reference {i}: a signed CoRIM, and no key to verify it with"
                    )));
                }
                let s = cose::SignedCorim::decode(bytes, &opts)?;
                s.verify(trusted, at)?;
                out.push(s.corim);
            } else {
                let c = Corim::decode(bytes, &opts)?;
                if let Some(v) = c.validity {
                    v.check(at, "CoRIM (rim-validity)")?;
                }
                out.push(c);
            }
        }
        Self::from_corims(&out)
    }

    /// The number of reference triples.
    pub fn len(&self) -> usize {
        self.triples.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.triples.is_empty()
    }

    /// The attesters these reference values describe: the CPU platforms and the GPU models
    /// some reference triple applies to (the default composition of a release).
    pub fn described(&self) -> Described {
        let mut d = Described::default();
        let tdx = profile::tdx_environment();
        let snp = [true, false].map(profile::snp_environment);
        for t in &self.triples {
            if compare::environment(&t.environment, &tdx) {
                d.cpus.insert(Platform::Tdx);
            }
            if snp.iter().any(|e| compare::environment(&t.environment, e)) {
                d.cpus.insert(Platform::Snp);
            }
            if compare::environment(&t.environment, &profile::sample_environment()) {
                d.cpus.insert(Platform::Sample);
            }
            if let Some(c) = &t.environment.class
                && c.vendor.as_deref() == Some("NVIDIA")
                && let Some(m) = &c.model
            {
                d.gpu_models.insert(m.clone());
            }
        }
        d
    }
}

/// What a set of reference values describes (see [`ReferenceValues::described`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Described {
    /// CPU platforms.
    pub cpus: std::collections::BTreeSet<Platform>,
    /// GPU models (`GH100`, ...).
    pub gpu_models: std::collections::BTreeSet<String>,
}
