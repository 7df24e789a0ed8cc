#!/usr/bin/env bash
# Builds the seed corpora from the real vectors and from freshly sealed files (nothing here is
# committed). Usage: fuzz/seed.sh   (COCO_VECTORS overrides ../shared/vectors)
set -euo pipefail
cd "$(dirname "$0")"
vectors="${COCO_VECTORS:-$(cd ../.. && pwd)/shared/vectors}"
mkdir -p corpus/{sealed_header,sealed_open,manifest,snp_report,x509_certs,tdx_quote,tdx_collateral,corim,ear,corim_build,nvidia_report,nvidia_rim,release_wire,initdata,kbs_evidence}
for f in "$vectors"/snp/*/report.bin "$vectors"/snp/*/hcl_report.bin; do
    cp "$f" "corpus/snp_report/$(basename "$(dirname "$f")")-$(basename "$f")"
done
# A host certificate table (configfs-tsm auxblob): the VCEK of a real sample and the first
# certificate of its chain (the ASK) behind their GUIDs, then the all-zero entry.
python3 - "$vectors/snp/milan-v2-trustee" corpus/snp_report/cert-table.bin <<'PY'
import struct, sys, uuid
d, out = sys.argv[1], sys.argv[2]
import base64, re
pem = open(f"{d}/cert_chain.pem").read()
ask = base64.b64decode("".join(re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END", pem, re.S)[0].split()))
certs = [("63da758d-e664-4564-adc5-f4b93be8accd", open(f"{d}/vcek.der", "rb").read()),
         ("4ab7b379-bbac-4fe4-a02f-05aef327c782", ask)]
blobs = [b for _, b in certs]
offset = 24 * (len(certs) + 1)
table = b""
for (guid, _), blob in zip(certs, blobs):
    table += uuid.UUID(guid).bytes_le + struct.pack("<II", offset, len(blob))
    offset += len(blob)
open(out, "wb").write(table + bytes(24) + b"".join(blobs))
PY
for f in "$vectors"/snp/*/*.der "$vectors"/snp/*/*.pem "$vectors"/roots/amd/*.pem; do
    cp "$f" "corpus/x509_certs/$(basename "$(dirname "$f")")-$(basename "$f")"
done
# An OCSP response made by OpenSSL's responder (nonce, responder certificate, P-384), for the
# OCSP reader that the x509_certs target also drives.
out=$(pwd)/corpus/x509_certs
(
    t=$(mktemp -d)
    trap 'rm -rf "$t"' EXIT
    cd "$t"
    printf '[req]\ndistinguished_name=dn\nx509_extensions=ca\nprompt=no\n[dn]\nCN=Seed Root\n[ca]\nbasicConstraints=critical,CA:TRUE\n[r]\nextendedKeyUsage=OCSPSigning\n' > x.cnf
    k=(-newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes)
    openssl req -x509 "${k[@]}" -keyout root.key -out root.pem -days 30 -config x.cnf 2>/dev/null
    openssl req -new "${k[@]}" -keyout r.key -out r.csr -subj /CN=Seed-Responder -config x.cnf 2>/dev/null
    openssl x509 -req -in r.csr -CA root.pem -CAkey root.key -set_serial 7 -days 30 -extfile x.cnf -extensions r -out r.pem 2>/dev/null
    printf 'V\t351231000000Z\t\t07\tunknown\t/CN=Seed-Responder\n' > index.txt
    openssl ocsp -sha384 -issuer root.pem -cert r.pem -reqout req.der >/dev/null 2>&1
    openssl ocsp -index index.txt -CA root.pem -rsigner r.pem -rkey r.key -rmd sha384 -reqin req.der -respout "$out/ocsp-openssl.der" -ndays 1 >/dev/null 2>&1
)
for f in "$vectors"/tdx/*/quote.bin; do
    cp "$f" "corpus/tdx_quote/$(basename "$(dirname "$f")")"
done
for f in "$vectors"/tdx/*/collateral/*.json "$vectors"/tdx/*/collateral/*.der; do
    case "$f" in *collateral_dcap_qvl.json) continue ;; esac
    cp "$f" "corpus/tdx_collateral/$(basename "$(dirname "$(dirname "$f")")")-$(basename "$f")"
done
for f in "$vectors"/tdx/*/collateral/tcb_info.json; do
    # The inner tcbInfo object alone, so the TCB algorithm sees well-formed levels.
    python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["tcbInfo"]))' "$f" \
        > "corpus/tdx_collateral/$(basename "$(dirname "$(dirname "$f")")")-inner.json"
done
for f in "$vectors"/nvidia/*/attestation_report.bin "$vectors"/nvidia/negative/*/attestation_report.bin "$vectors"/nvidia/*/gpu_evidence.json; do
    cp "$f" "corpus/nvidia_report/$(basename "$(dirname "$f")")-$(basename "$f")"
done
for f in "$vectors"/nvidia/*/*.swidtag "$vectors"/nvidia/*/*.xml "$vectors"/nvidia/rims/*/* "$vectors"/nvidia/negative/rims/*; do
    cp "$f" "corpus/nvidia_rim/$(basename "$(dirname "$f")")-$(basename "$f")"
done
# Evidence bundles around real evidence (the token is replaced by the target).
python3 - "$vectors" corpus/release_wire <<'PY'
import base64, json, pathlib, sys
v, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
b64 = lambda p: base64.b64encode(p.read_bytes()).decode()
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
pk = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
    Encoding.X962, PublicFormat.UncompressedPoint)
snp = v / "snp/milan-v2-virtee-sev"
gpu = v / "nvidia/hopper-h100-550.90.07"
bundle = {"version": 1, "token": "x", "key_id": "k", "kem": "p384",
          "public_key": base64.b64encode(pk).decode(),
          "cpu": {"platform": "snp", "evidence": b64(snp / "report.bin"),
                  "certs": (snp / "cert_chain.pem").read_text()},
          "gpus": [{"platform": "nvidia", "evidence": b64(gpu / "attestation_report.bin"),
                    "certs": (gpu / "cert_chain.pem").read_text()}]}
(out / "bundle-snp-nvidia.json").write_text(json.dumps(bundle))
bundle["cpu"] = {"platform": "tdx", "evidence": b64(next(v.glob("tdx/*/quote.bin")))}
(out / "bundle-tdx.json").write_text(json.dumps(bundle))
# A TEE key as the KBS protocol carries it (JWK).
nums = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
b64u = lambda i, n: base64.urlsafe_b64encode(i.to_bytes(n, "big")).rstrip(b"=").decode()
(out / "jwk-p256.json").write_text(json.dumps(
    {"kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW", "x": b64u(nums.x, 32), "y": b64u(nums.y, 32)}))
PY
# KBS: the real Trustee SNP evidence, its report alone, and attestation requests around it.
python3 - "$vectors" corpus/kbs_evidence <<'PY'
import json, pathlib, sys
v, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
ev = json.loads((v / "kbs/trustee-snp-e2e/evidence.json").read_text())
(out / "snp-evidence.json").write_text(json.dumps(ev))
(out / "snp-report.json").write_text(json.dumps(ev["attestation_report"]))
jwk = {"kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW", "x": "x", "y": "y"}
gpus = json.dumps({"nvidia": {"device_evidence_list": [{"arch": "HOPPER", "uuid": "u", "evidence": "AAAA", "certificate": "AAAA"}]}})
att = {"init-data": None, "runtime-data": {"nonce": "AAAA", "tee-pubkey": jwk},
       "tee-evidence": {"primary_evidence": ev, "additional_evidence": gpus}}
(out / "attestation.json").write_text(json.dumps(att))
(out / "sample.json").write_text(json.dumps({"svn": "1", "report_data": "AAAA"}))
(out / "gpus.json").write_text(gpus)
PY
printf '%s\n' 'version = "0.1.0"' 'algorithm = "sha384"' '[data]' '"aa.toml" = """' \
    '[token_configs]' '[token_configs.kbs]' 'url = "https://kbs.example:8080"' '"""' \
    '"policy.rego" = "package agent_policy\ndefault AllowRequestsFailingPolicy := true"' \
    > corpus/initdata/initdata.toml
for f in "$vectors"/corim/corim/*.cbor; do cp "$f" corpus/corim/; done
for f in "$vectors"/corim/ear/*.jwt "$vectors"/corim/ear/*.json "$vectors"/corim/ear/*.cbor; do cp "$f" corpus/ear/; done
sed -n '/^```toml/,/^```/p' ../docs/PROFILE.md | grep -v '^```' > corpus/corim_build/profile.toml
kat=../crates/coco-seal/tests/data/kat-v1.coco
cp "$kat" corpus/sealed_header/kat
# Files sealed under the fuzz key (0x42 repeated) so sealed_open reaches the decryption paths.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '42%.0s' $(seq 32) | xxd -r -p > "$work/key"
# The CLI as the workspace build has it (after the tests, nothing to compile; see test-c.sh).
cargo build -q --manifest-path ../Cargo.toml --workspace --all-targets --locked
coco="${CARGO_TARGET_DIR:-../target}/debug/coco"
"$coco" demo --dir "$work/demo" --shards 1 --shard-mib 1 >/dev/null
for n in 0 1 5000 70000; do
    head -c "$n" /dev/urandom > "$work/p$n"
    "$coco" seal --force --key "$work/key" --chunk-size 64K "$work/p$n" "corpus/sealed_open/p$n" 2>/dev/null
    cp "corpus/sealed_open/p$n" "corpus/sealed_header/p$n"
done
cp "$work/demo/model.sealed/coco-manifest.json" corpus/manifest/signed.json
echo "seeded: $(find corpus -type f | wc -l) files"
