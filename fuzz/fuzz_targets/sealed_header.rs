//! The sealed header parser and `inspect` on arbitrary bytes: never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = coco_seal::Header::parse(data) {
        // A header that parses must re-encode to the same bytes.
        let enc = h.encode();
        assert_eq!(&data[..enc.len()], &enc[..]);
        let _ = h.layout();
    }
    let _ = coco_seal::inspect(data);
});
