#!/usr/bin/env python3
"""A Key Broker Service client written from the KBS protocol document (Confidential Containers,
protocol 0.4.0), not from coco's code: standard-library HTTP with a cookie jar, PyPI `rfc8785`
for the canonical JSON of the binding and PyPI `jwcrypto` for the TEE key and the JWE.

It drives `coco serve` (started by crates/coco-cli/tests/kbs.rs with the simulated platform)
through auth -> attest -> resource and through every documented refusal. The only coco piece
it uses is `coco sim evidence --kbs-json`, the simulated TEE's attester.

usage: kbs_client.py URL SIM_DIR COCO_BIN KEY_HEX MEASUREMENT_HEX CHALLENGE_TTL_SECS
"""

import base64
import hashlib
import http.cookiejar
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import rfc8785
from jwcrypto import jwe, jwk

URL, SIM, COCO, KEY_HEX, MEASUREMENT, TTL = sys.argv[1:7]
RESOURCE = "default/model/dek"
ERRORS = "https://github.com/confidential-containers/kbs/errors/"


class Session:
    """One KBS session: a cookie jar, as an HTTP client keeps it."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(URL + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def auth(self):
        status, c = self.call("POST", "/kbs/v0/auth", {
            "version": "0.4.0", "tee": "snp",
            "extra-params": {"supported-hash-algorithms": ["sha256", "sha384", "sha512"]}})
        assert status == 200, (status, c)
        assert any(k.name == "kbs-session-id" for k in self.jar), list(self.jar)
        alg = (c.get("extra-params") or {}).get("selected-hash-algorithm", "sha384")
        assert alg == "sha384", c
        return c["nonce"]


def evidence(nonce, tee_pubkey, measurement=MEASUREMENT):
    """The `tee-evidence` of the simulated TEE bound to `nonce` and `tee_pubkey` as the
    protocol document says: report_data = SHA-384(JCS({additional-evidence, nonce, tee-pubkey}))
    zero-padded to 64 bytes (no GPU here: additional-evidence is "")."""
    additional = ""
    rd = hashlib.sha384(rfc8785.dumps({
        "additional-evidence": additional, "nonce": nonce, "tee-pubkey": tee_pubkey})).digest()
    rd = rd + bytes(64 - len(rd))
    out = subprocess.run([COCO, "sim", "evidence", SIM, "--platform", "snp", "--report-data",
                          rd.hex(), "--measurement", measurement, "--kbs-json"],
                         check=True, capture_output=True, text=True).stdout
    return {"primary_evidence": json.loads(out), "additional_evidence": additional}


def tee_key():
    k = jwk.JWK.generate(kty="EC", crv="P-256")
    pub = json.loads(k.export_public())
    pub["alg"] = "ECDH-ES+A256KW"
    return k, pub


def attestation(nonce, pub, bound_nonce=None, bound_pub=None, measurement=MEASUREMENT):
    return {"runtime-data": {"nonce": nonce, "tee-pubkey": pub},
            "tee-evidence": evidence(bound_nonce or nonce, bound_pub or pub, measurement)}


def expect_problem(got, status, kind):
    code, body = got
    assert code == status, (code, body)
    assert body["type"] == ERRORS + kind, body
    assert isinstance(body["detail"], str) and body["detail"], body


def ok(name):
    print("ok", name, flush=True)


# The whole flow: the resource decrypts to the configured key.
s = Session()
nonce = s.auth()
key, pub = tee_key()
status, token = s.call("POST", "/kbs/v0/attest", attestation(nonce, pub))
assert status == 200 and token["token"].count(".") == 2, (status, token)
claims = json.loads(base64.urlsafe_b64decode(token["token"].split(".")[1] + "=="))
assert claims["exp"] > time.time(), claims
status, body = s.call("GET", "/kbs/v0/resource/" + RESOURCE)
assert status == 200, (status, body)
assert set(body) == {"protected", "encrypted_key", "iv", "ciphertext", "tag"}, body
t = jwe.JWE()
t.deserialize(json.dumps(body), key=key)
assert t.payload.hex() == KEY_HEX, "the JWE decrypts to the configured key"
ok("auth -> attest -> resource")

# A resource without a session.
expect_problem(Session().call("GET", "/kbs/v0/resource/" + RESOURCE), 401, "TokenNotFound")
ok("no session")

# Wrong nonce: runtime-data carries another nonce than the session's.
s = Session()
nonce = s.auth()
other = base64.b64encode(bytes(32)).decode()
expect_problem(s.call("POST", "/kbs/v0/attest", attestation(other, pub)), 401, "AttestationError")
ok("wrong nonce")

# Evidence bound to a nonce of another session.
expect_problem(s.call("POST", "/kbs/v0/attest", attestation(nonce, pub, bound_nonce=other)),
               401, "AttestationError")
ok("evidence for another nonce")

# Wrong tee-pubkey: evidence bound to one key, another sent.
_, pub2 = tee_key()
expect_problem(s.call("POST", "/kbs/v0/attest", attestation(nonce, pub2, bound_pub=pub)),
               401, "AttestationError")
ok("wrong tee-pubkey")

# The session still attests once; then the resource of an unknown name is a 404.
status, _ = s.call("POST", "/kbs/v0/attest", attestation(nonce, pub))
assert status == 200
expect_problem(s.call("GET", "/kbs/v0/resource/default/model/nothing"), 404, "ResourceNotFound")
ok("unknown resource")

# Denied by policy: a measurement the reference values do not know.
s = Session()
nonce = s.auth()
status, _ = s.call("POST", "/kbs/v0/attest", attestation(nonce, pub, measurement="cd" * 48))
assert status == 200
expect_problem(s.call("GET", "/kbs/v0/resource/" + RESOURCE), 403, "PolicyDeny")
ok("denied policy")

# An expired session: past the challenge lifetime the cookie jar drops the cookie (it carries
# the lifetime), and a client that sends it anyway is refused by the service.
s = Session()
nonce = s.auth()
cookie = next(k.value for k in s.jar if k.name == "kbs-session-id")
body = attestation(nonce, pub)
time.sleep(int(TTL) + 1.5)
expect_problem(s.call("POST", "/kbs/v0/attest", body), 401, "TokenNotFound")
req = urllib.request.Request(URL + "/kbs/v0/attest", data=json.dumps(body).encode(), method="POST",
                             headers={"Content-Type": "application/json",
                                      "Cookie": "kbs-session-id=" + cookie})
try:
    urllib.request.urlopen(req, timeout=30)
    raise AssertionError("an expired session attested")
except urllib.error.HTTPError as e:
    expect_problem((e.code, json.loads(e.read())), 401, "InvalidSession")
ok("expired session")
