//! KBS sessions as authenticated, expiring tokens (the `kbs-session-id` cookie), so that any
//! replica sharing the challenge secret can continue a session another replica began: no
//! session lives in server memory. The token is `base64url(JSON) "." base64url(HMAC-SHA256)`
//! under a key derived from that secret; the MAC is compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::ChallengeError;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The longest session token read (a TEE key of RSA-4096 fits several times over).
pub const MAX_TOKEN_LEN: usize = 8 << 10;

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// `auth` answered; waiting for evidence.
    Auth,
    /// Evidence appraised; resources may be asked for.
    Attested,
}

/// What a session token holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// Where it stands.
    pub step: Step,
    /// The nonce of `auth` (standard base64, as sent).
    pub nonce: String,
    /// The TEE named at `auth`.
    pub tee: String,
    /// The hash algorithm of the binding (`sha256`, `sha384`, `sha512`).
    pub hash: String,
    /// Unix seconds after which the token is refused.
    pub exp: u64,
    /// The attested TEE key (JWK), once attested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tee_pubkey: Option<Value>,
    /// The EAR's overall status, once attested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Whether the appraisal affirmed (affirming or warning): resources may be released.
    #[serde(default)]
    pub affirmed: bool,
}

/// Seals and opens session tokens.
pub struct SessionKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey")
    }
}

impl SessionKey {
    /// A key of 32 secret bytes.
    pub fn new(key: Zeroizing<[u8; 32]>) -> Self {
        Self(key)
    }

    fn mac(&self, body: &[u8]) -> HmacSha256 {
        let mut m =
            <HmacSha256 as KeyInit>::new_from_slice(&*self.0).expect("HMAC takes any key length");
        m.update(b"coco/kbs/v0/session");
        m.update(body);
        m
    }

    /// The token of `session`.
    pub fn seal(&self, session: &Session) -> String {
        let body = serde_json::to_vec(session).expect("a session serialises");
        let tag = self.mac(&body).finalize().into_bytes();
        format!("{}.{}", B64U.encode(&body), B64U.encode(tag))
    }

    /// The session of `token` when its MAC verifies and it has not expired at `now`.
    pub fn open(&self, token: &str, now: u64) -> Result<Session, ChallengeError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(ChallengeError::Malformed);
        }
        let (body, tag) = token.split_once('.').ok_or(ChallengeError::Malformed)?;
        let body = B64U.decode(body).map_err(|_| ChallengeError::Malformed)?;
        let tag = B64U.decode(tag).map_err(|_| ChallengeError::Malformed)?;
        self.mac(&body)
            .verify_slice(&tag)
            .map_err(|_| ChallengeError::NotIssuedHere)?;
        let s: Session = serde_json::from_slice(&body).map_err(|_| ChallengeError::Malformed)?;
        if now > s.exp {
            return Err(ChallengeError::Expired);
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            step: Step::Auth,
            nonce: "bm9uY2U=".into(),
            tee: "snp".into(),
            hash: "sha384".into(),
            exp: 100,
            tee_pubkey: None,
            status: None,
            affirmed: false,
        }
    }

    #[test]
    fn tokens_are_authenticated_and_expire() {
        let k = SessionKey::new(Zeroizing::new([1; 32]));
        let t = k.seal(&session());
        assert_eq!(k.open(&t, 100).unwrap(), session());
        assert_eq!(k.open(&t, 101), Err(ChallengeError::Expired));
        let other = SessionKey::new(Zeroizing::new([2; 32]));
        assert_eq!(other.open(&t, 1), Err(ChallengeError::NotIssuedHere));
        // A session promoted by its holder (the body changed, the MAC kept) is refused.
        let mut promoted = session();
        promoted.step = Step::Attested;
        promoted.affirmed = true;
        let forged = format!(
            "{}.{}",
            k.seal(&promoted).split_once('.').unwrap().0,
            t.split_once('.').unwrap().1
        );
        assert_eq!(k.open(&forged, 1), Err(ChallengeError::NotIssuedHere));
        assert_eq!(k.open("x", 1), Err(ChallengeError::Malformed));
        assert_eq!(
            k.open(&"a".repeat(MAX_TOKEN_LEN + 1), 1),
            Err(ChallengeError::Malformed)
        );
    }
}
