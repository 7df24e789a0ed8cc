//! Every TOML example of docs/POLICY.md parses, and the first one (every setting with its
//! default) is exactly the strict default.

use coco_core::policy::{Policy, Revocation};

fn examples() -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/POLICY.md"))
        .unwrap();
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in doc.lines() {
        match (&mut cur, line) {
            (None, "```toml") => cur = Some(String::new()),
            (Some(_), "```") => out.push(cur.take().unwrap()),
            (Some(c), l) => {
                c.push_str(l);
                c.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

#[test]
fn the_policy_document_examples_parse() {
    let ex = examples();
    assert_eq!(ex.len(), 4);
    assert_eq!(Policy::from_toml(&ex[0]).unwrap(), Policy::default());
    let p = Policy::from_toml(&ex[1]).unwrap();
    assert!(!p.require_revocation_check.nvidia);
    assert!(p.require_revocation_check.tdx && p.require_revocation_check.snp);
    let p = Policy::from_toml(&ex[2]).unwrap();
    assert_eq!(p.composition.gpus, Some(8));
    assert!(p.release_blockers().is_empty());
    let p = Policy::from_toml(&ex[3]).unwrap();
    assert!(p.allow_simulated);
    assert_eq!(p.require_revocation_check, Revocation::NONE);
    // A policy cannot accept a revoked TCB.
    assert!(Policy::from_toml("tcb_status = [\"UpToDate\", \"Revoked\"]\n").is_err());
}
