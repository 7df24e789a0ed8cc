//! The AMD Root Keys (ARK), pinned. Nothing from input is ever trusted as a root.
//!
//! These are AMD's public self-signed root certificates as published by the AMD Key
//! Distribution Service; their SHA-256 fingerprints are checked by a test.

use std::sync::OnceLock;

use super::abi::Product;
use crate::x509::{Cert, parse_certs};

const ARK_MILAN: &str = include_str!("roots/ark-milan.pem");
const ARK_GENOA: &str = include_str!("roots/ark-genoa.pem");
const ARK_TURIN: &str = include_str!("roots/ark-turin.pem");

/// SHA-256 fingerprints (DER) of the pinned ARKs.
pub const ARK_FINGERPRINTS: [(Product, &str); 3] = [
    (
        Product::Milan,
        "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
    ),
    (
        Product::Genoa,
        "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
    ),
    (
        Product::Turin,
        "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
    ),
];

/// The pinned ARK of each product.
pub fn arks() -> &'static [(Product, Cert)] {
    static ARKS: OnceLock<Vec<(Product, Cert)>> = OnceLock::new();
    ARKS.get_or_init(|| {
        [
            (Product::Milan, ARK_MILAN),
            (Product::Genoa, ARK_GENOA),
            (Product::Turin, ARK_TURIN),
        ]
        .into_iter()
        .map(|(p, pem)| {
            let mut certs = parse_certs(pem.as_bytes()).expect("pinned ARK parses");
            (p, certs.remove(0))
        })
        .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_roots_are_the_published_ones_and_self_signed() {
        for ((p, cert), (fp_p, fp)) in arks().iter().zip(ARK_FINGERPRINTS) {
            assert_eq!(*p, fp_p);
            assert_eq!(cert.fingerprint(), fp, "{p:?}");
            assert_eq!(cert.subject_cn(), format!("ARK-{}", p.name()));
            cert.verify_signed_by(cert, None).unwrap();
        }
    }
}
