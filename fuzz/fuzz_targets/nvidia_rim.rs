//! NVIDIA RIMs: the XML reader, canonicalization, the RIM model and XML-DSig verification
//! never panic; a parsed document canonicalizes to XML that parses again to the same tree.
#![no_main]
use coco_evidence::nvidia::{rim, xml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = xml::parse(data) {
        let c = xml::canonicalize(&root, &|_| false);
        let again = xml::parse(&c).expect("canonical XML parses");
        assert_eq!(xml::canonicalize(&again, &|_| false), c, "C14N is idempotent");
    }
    if let Ok(doc) = rim::RimDocument::parse(data) {
        let _ = rim::verify(doc, std::time::SystemTime::UNIX_EPOCH);
    }
});
