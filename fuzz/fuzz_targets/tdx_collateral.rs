//! TDX collateral: PCS JSON bodies (TCB Info, QE Identity), CRLs, collateral verification, and
//! the TCB algorithm over arbitrary (unverified) TCB Info against a real quote: never a panic.
#![no_main]
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use coco_evidence::tdx::pcs::{Collateral, QeIdentity, TcbInfo};
use coco_evidence::tdx::{self, Quote, RawCollateral, VerifyOptions};
use coco_evidence::x509::{Crl, parse_certs};
use libfuzzer_sys::fuzz_target;

fn base() -> &'static (Quote, RawCollateral, Collateral, tdx::pck::PckExtensions) {
    static B: OnceLock<(Quote, RawCollateral, Collateral, tdx::pck::PckExtensions)> =
        OnceLock::new();
    B.get_or_init(|| {
        let s = coco_evidence::vectors::dir().join("tdx/v4-dcap-qvl-uptodate");
        let q = Quote::parse(&std::fs::read(s.join("quote.bin")).unwrap()).unwrap();
        let raw = RawCollateral::from_dir(&s.join("collateral")).unwrap();
        let opts = VerifyOptions::at(UNIX_EPOCH + Duration::from_secs(1_751_328_000));
        let c = tdx::verify_collateral(&raw, &opts).unwrap().into_inner();
        let chain = parse_certs(&q.pck_chain).unwrap();
        let pck = tdx::pck::PckExtensions::from_cert(&chain[0]).unwrap();
        (q, raw, c, pck)
    })
}

fuzz_target!(|data: &[u8]| {
    let (q, raw, c, pck) = base();
    if let Ok(info) = serde_json::from_slice::<TcbInfo>(data) {
        let mut c = c.clone();
        c.tcb_info = info;
        let _ = tdx::tcb::evaluate(&q.body, &q.qe_report, pck, &c);
    }
    if let Ok(qe) = serde_json::from_slice::<QeIdentity>(data) {
        let mut c = c.clone();
        c.qe_identity = qe;
        let _ = tdx::tcb::evaluate(&q.body, &q.qe_report, pck, &c);
    }
    if let Ok(crl) = Crl::from_der(data) {
        let _ = crl.window();
        let _ = crl.issuer_cn();
    }
    let opts = VerifyOptions::at(UNIX_EPOCH + Duration::from_secs(1_751_328_000));
    let mut r = raw.clone();
    r.tcb_info = data.to_vec();
    let _ = tdx::verify_collateral(&r, &opts);
    let mut r = raw.clone();
    r.qe_identity = data.to_vec();
    let _ = tdx::verify_collateral(&r, &opts);
    let mut r = raw.clone();
    r.pck_crl = Some(data.to_vec());
    let _ = tdx::verify_collateral(&r, &opts);
});
