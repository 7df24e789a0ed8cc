//! Matching of evidence against reference values, by the rules of draft-ietf-rats-corim's
//! reference verifier: the reference is the condition, the evidence the entry; each key of the
//! condition must be present in the evidence and satisfied; extra evidence keys are ignored.

use super::{Alg, Digest, Environment, IntRange, Mval, RawValue, Svn, Version};

/// Digests: false if the condition is empty, if either side lists an algorithm twice, or if
/// no algorithm is in common; every algorithm in common must have equal bytes.
pub fn digests(reference: &[Digest], evidence: &[Digest]) -> bool {
    fn dup(d: &[Digest]) -> bool {
        d.iter()
            .enumerate()
            .any(|(i, x)| d[..i].iter().any(|y| y.alg == x.alg))
    }
    if reference.is_empty() || dup(reference) || dup(evidence) {
        return false;
    }
    let mut common = 0;
    for r in reference {
        if let Some(e) = evidence.iter().find(|e| e.alg == r.alg) {
            if e.value != r.value {
                return false;
            }
            common += 1;
        }
    }
    common > 0
}

/// Raw values: the evidence must have the reference's length (and the mask's); bits where the
/// mask is 1 must be equal (no mask: every bit).
pub fn raw(reference: &RawValue, evidence: &[u8]) -> bool {
    if reference.value.len() != evidence.len() {
        return false;
    }
    match &reference.mask {
        None => reference.value == evidence,
        Some(mask) => {
            mask.len() == evidence.len()
                && reference
                    .value
                    .iter()
                    .zip(evidence)
                    .zip(mask)
                    .all(|((r, e), m)| r & m == e & m)
        }
    }
}

/// SVNs: an exact condition needs an equal exact claim; a minimum needs an exact claim at least
/// as high (or the same minimum).
pub fn svn(reference: Svn, evidence: Svn) -> bool {
    match (reference, evidence) {
        (Svn::Exact(r), Svn::Exact(e)) => r == e,
        (Svn::Min(r), Svn::Exact(e)) => e >= r,
        (Svn::Min(r), Svn::Min(e)) => r == e,
        (Svn::Exact(_), Svn::Min(_)) => false,
    }
}

/// Integers: equality, or inside the range (a missing bound is unbounded).
pub fn int(reference: IntRange, evidence: i128) -> bool {
    match reference {
        IntRange::Exact(r) => r == evidence,
        IntRange::Range(min, max) => {
            min.is_none_or(|m| evidence >= m) && max.is_none_or(|m| evidence <= m)
        }
    }
}

/// Versions: equality of the text and the scheme (no ordering).
pub fn version(reference: &Version, evidence: &Version) -> bool {
    reference == evidence
}

/// Why a measurement did not match (the first unmet condition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch(pub String);

/// Whether `evidence` satisfies every condition of `reference`. Negative (profile) keys in the
/// reference never match: this crate implements no profile that defines them.
pub fn mval(reference: &Mval, evidence: &Mval) -> Result<(), Mismatch> {
    let miss = |what: &str| Err(Mismatch(format!("{what} not in the evidence")));
    if let Some(r) = &reference.version {
        match &evidence.version {
            Some(e) if version(r, e) => {}
            Some(e) => {
                return Err(Mismatch(format!(
                    "version {:?} is not {:?}",
                    e.version, r.version
                )));
            }
            None => return miss("version"),
        }
    }
    if let Some(r) = reference.svn {
        match evidence.svn {
            Some(e) if svn(r, e) => {}
            Some(e) => return Err(Mismatch(format!("svn {e:?} does not satisfy {r:?}"))),
            None => return miss("svn"),
        }
    }
    if let Some(r) = &reference.digests {
        match &evidence.digests {
            Some(e) if digests(r, e) => {}
            Some(_) => return Err(Mismatch("digest differs".into())),
            None => return miss("digests"),
        }
    }
    if let Some(r) = &reference.flags {
        let Some(e) = &evidence.flags else {
            return miss("flags");
        };
        for (flag, want) in r {
            match e.iter().find(|(f, _)| f == flag) {
                Some((_, have)) if have == want => {}
                Some((_, have)) => {
                    return Err(Mismatch(format!("flag {flag} is {have}, expected {want}")));
                }
                None => return Err(Mismatch(format!("flag {flag} not in the evidence"))),
            }
        }
    }
    if let Some(r) = &reference.raw {
        match &evidence.raw {
            Some(e) if e.mask.is_none() && raw(r, &e.value) => {}
            Some(_) => return Err(Mismatch("raw value differs under the mask".into())),
            None => return miss("raw value"),
        }
    }
    if let Some(r) = &reference.cryptokeys
        && evidence.cryptokeys.as_ref() != Some(r)
    {
        return Err(Mismatch("cryptokeys differ".into()));
    }
    if let Some(r) = &reference.integrity_registers {
        let Some(e) = &evidence.integrity_registers else {
            return miss("integrity registers");
        };
        for (id, d) in r {
            match e.iter().find(|(i, _)| i == id) {
                Some((_, ed)) if digests(d, ed) => {}
                _ => {
                    return Err(Mismatch(format!(
                        "integrity register {id:?} differs or is missing"
                    )));
                }
            }
        }
    }
    if let Some(r) = reference.int_range {
        match evidence.int_range {
            Some(IntRange::Exact(e)) if int(r, e) => {}
            Some(e) => return Err(Mismatch(format!("integer {e:?} does not satisfy {r:?}"))),
            None => return miss("integer"),
        }
    }
    for (k, v) in &reference.other {
        if !evidence.other.iter().any(|(ek, ev)| ek == k && ev == v) {
            return Err(Mismatch(format!("value of key {k} differs or is missing")));
        }
    }
    if let Some((k, _)) = reference.extensions.first() {
        return Err(Mismatch(format!(
            "profile extension key {k} is not understood (fail closed)"
        )));
    }
    Ok(())
}

/// Environments: every attribute present in the reference must be present in the evidence and
/// identical; attributes absent from the reference are wildcards.
pub fn environment(reference: &Environment, evidence: &Environment) -> bool {
    fn opt<T: PartialEq>(r: &Option<T>, e: &Option<T>) -> bool {
        r.as_ref().is_none_or(|r| e.as_ref() == Some(r))
    }
    let class = match (&reference.class, &evidence.class) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(r), Some(e)) => {
            opt(&r.class_id, &e.class_id)
                && opt(&r.vendor, &e.vendor)
                && opt(&r.model, &e.model)
                && opt(&r.layer, &e.layer)
                && opt(&r.index, &e.index)
        }
    };
    class && opt(&reference.instance, &evidence.instance) && opt(&reference.group, &evidence.group)
}

/// A SHA-384 digest list, as the evidence side of our profile states measurements.
pub fn sha384(value: &[u8]) -> Vec<Digest> {
    vec![Digest {
        alg: Alg::Int(7),
        value: value.to_vec(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(alg: i64, v: &[u8]) -> Digest {
        Digest {
            alg: Alg::Int(alg),
            value: v.to_vec(),
        }
    }

    #[test]
    fn digest_rules() {
        assert!(digests(&[d(7, b"a")], &[d(7, b"a"), d(1, b"x")]));
        assert!(!digests(&[d(7, b"a")], &[d(7, b"b")]));
        assert!(
            !digests(&[d(7, b"a"), d(1, b"y")], &[d(7, b"a"), d(1, b"x")]),
            "every common alg"
        );
        assert!(!digests(&[d(7, b"a")], &[d(1, b"a")]), "no alg in common");
        assert!(!digests(&[], &[d(1, b"a")]));
        assert!(
            !digests(&[d(7, b"a"), d(7, b"b")], &[d(7, b"a")]),
            "duplicate alg"
        );
    }

    #[test]
    fn raw_svn_and_int_rules() {
        let r = RawValue {
            value: vec![0x12, 0x34, 0, 0],
            mask: Some(vec![0xff, 0xff, 0, 0]),
        };
        assert!(raw(&r, &[0x12, 0x34, 0xab, 0xcd]));
        assert!(!raw(&r, &[0x12, 0x35, 0, 0]));
        assert!(!raw(&r, &[0x12, 0x34, 0]));
        assert!(svn(Svn::Min(3), Svn::Exact(4)));
        assert!(!svn(Svn::Min(5), Svn::Exact(4)));
        assert!(!svn(Svn::Exact(4), Svn::Min(4)));
        assert!(int(IntRange::Range(Some(0), Some(1)), 1));
        assert!(!int(IntRange::Range(Some(0), Some(1)), 2));
        assert!(int(IntRange::Range(None, Some(u64::MAX.into())), -5));
    }
}
