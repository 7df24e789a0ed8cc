//! Challenges as stateless signed tokens (HMAC-SHA256 under a secret the replicas share), so
//! that several service replicas behind a load balancer need no shared state to issue and
//! check them; single use is enforced by a pluggable [`ReplayStore`].

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use zeroize::Zeroizing;

use crate::error::{ChallengeError, ReleaseError, Result};
use crate::wire::Challenge;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Issues and checks challenge tokens.
pub struct ChallengeIssuer {
    secret: Zeroizing<[u8; 32]>,
    ttl_secs: u64,
}

impl std::fmt::Debug for ChallengeIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChallengeIssuer(ttl {} s)", self.ttl_secs)
    }
}

fn mac(secret: &[u8; 32], nonce: &[u8; 32], exp: u64) -> HmacSha256 {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(b"coco/kr/v1/challenge");
    m.update(nonce);
    m.update(&exp.to_be_bytes());
    m
}

impl ChallengeIssuer {
    /// An issuer with `secret` (shared by every replica) and tokens valid `ttl_secs`.
    pub fn new(secret: [u8; 32], ttl_secs: u64) -> Self {
        Self {
            secret: Zeroizing::new(secret),
            ttl_secs,
        }
    }

    /// An issuer with a fresh random secret (a single replica).
    pub fn generate(ttl_secs: u64) -> Result<Self> {
        let mut s = [0u8; 32];
        getrandom::fill(&mut s)
            .map_err(|e| ReleaseError::Storage(format!("no randomness: {e}")))?;
        Ok(Self::new(s, ttl_secs))
    }

    /// A key for another purpose of the service (e.g. KBS session tokens), derived from the
    /// secret under `label`, so that replicas sharing the secret share it too.
    pub(crate) fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(&*self.secret)
            .expect("HMAC takes any key length");
        m.update(b"coco/derive/");
        m.update(label);
        Zeroizing::new(m.finalize().into_bytes().into())
    }

    /// How long a challenge stays valid (seconds).
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// A fresh challenge valid until `now + ttl`.
    pub fn issue(&self, now: u64) -> Result<Challenge> {
        let mut nonce = [0u8; 32];
        getrandom::fill(&mut nonce)
            .map_err(|e| ReleaseError::Storage(format!("no randomness: {e}")))?;
        let exp = now + self.ttl_secs;
        let tag = mac(&self.secret, &nonce, exp).finalize().into_bytes();
        let mut body = nonce.to_vec();
        body.extend_from_slice(&exp.to_be_bytes());
        Ok(Challenge {
            version: 1,
            nonce: URL_SAFE_NO_PAD.encode(nonce),
            expires_at: exp,
            token: format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(body),
                URL_SAFE_NO_PAD.encode(tag)
            ),
        })
    }

    /// Checks a token (MAC compared in constant time, expiry at `now`); returns its nonce and
    /// expiry.
    pub fn verify(&self, token: &str, now: u64) -> Result<([u8; 32], u64)> {
        let bad = ReleaseError::Challenge;
        let (body, tag) = token
            .split_once('.')
            .ok_or_else(|| bad(ChallengeError::Malformed))?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| bad(ChallengeError::Malformed))?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| bad(ChallengeError::Malformed))?;
        if body.len() != 40 {
            return Err(bad(ChallengeError::Malformed));
        }
        let nonce: [u8; 32] = body[..32].try_into().expect("length checked");
        let exp = u64::from_be_bytes(body[32..].try_into().expect("length checked"));
        mac(&self.secret, &nonce, exp)
            .verify_slice(&tag)
            .map_err(|_| bad(ChallengeError::NotIssuedHere))?;
        if now > exp {
            return Err(bad(ChallengeError::Expired));
        }
        Ok((nonce, exp))
    }
}

/// Remembers used challenges until they expire.
pub trait ReplayStore: Send + Sync {
    /// Records `nonce` as used: `Ok(false)` if it was used before, an error when the store
    /// cannot take it (full, unreachable): the release is then refused.
    fn first_use(&self, nonce: &[u8; 32], expires_at: u64, now: u64) -> Result<bool>;

    /// Whether `nonce` was used already (a cheap early refusal; [`Self::first_use`] decides).
    fn is_used(&self, nonce: &[u8; 32]) -> bool;

    /// How many challenges are remembered, when the store knows (for metrics).
    fn entries(&self) -> Option<usize> {
        None
    }
}

/// An in-memory [`ReplayStore`] for one replica: expired entries are pruned in expiry order
/// (each insert costs O(log n)), and at most `capacity` live entries are kept; when full,
/// new challenges are refused until old ones expire.
#[derive(Debug)]
pub struct MemoryReplayStore {
    inner: Mutex<Used>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Used {
    expiry: HashMap<[u8; 32], u64>,
    by_expiry: std::collections::BTreeSet<(u64, [u8; 32])>,
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

impl MemoryReplayStore {
    /// The default bound on live (unexpired, used) challenges.
    pub const DEFAULT_CAPACITY: usize = 1 << 20;

    /// A store of at most `capacity` live challenges.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Used::default()),
            capacity,
        }
    }

    /// The number of challenges remembered.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expiry
            .len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ReplayStore for MemoryReplayStore {
    fn first_use(&self, nonce: &[u8; 32], expires_at: u64, now: u64) -> Result<bool> {
        let mut u = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(&(exp, n)) = u.by_expiry.first() {
            if exp >= now {
                break;
            }
            u.by_expiry.pop_first();
            u.expiry.remove(&n);
        }
        if u.expiry.contains_key(nonce) {
            return Ok(false);
        }
        if u.expiry.len() >= self.capacity {
            return Err(ReleaseError::Storage(format!(
                "replay store full ({} live challenges); try again when some expire",
                self.capacity
            )));
        }
        u.expiry.insert(*nonce, expires_at);
        u.by_expiry.insert((expires_at, *nonce));
        Ok(true)
    }

    fn entries(&self) -> Option<usize> {
        Some(self.len())
    }

    fn is_used(&self, nonce: &[u8; 32]) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expiry
            .contains_key(nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_are_bound_to_the_secret_and_replays_are_caught() {
        let i = ChallengeIssuer::new([1; 32], 60);
        let c = i.issue(1000).unwrap();
        let (n, exp) = i.verify(&c.token, 1059).unwrap();
        assert_eq!(exp, 1060);
        assert!(matches!(
            i.verify(&c.token, 1061),
            Err(ReleaseError::Challenge(
                crate::error::ChallengeError::Expired
            ))
        ));
        assert!(
            ChallengeIssuer::new([2; 32], 60)
                .verify(&c.token, 1001)
                .is_err()
        );
        let mut forged = c.token.clone().into_bytes();
        forged[3] ^= 1;
        assert!(i.verify(&String::from_utf8(forged).unwrap(), 1001).is_err());
        let store = MemoryReplayStore::default();
        assert!(store.first_use(&n, exp, 1001).unwrap());
        assert!(store.is_used(&n));
        assert!(!store.first_use(&n, exp, 1002).unwrap());
    }

    #[test]
    fn the_replay_store_prunes_in_expiry_order_and_is_bounded() {
        let store = MemoryReplayStore::with_capacity(3);
        for i in 0..3u8 {
            assert!(store.first_use(&[i; 32], 100 + u64::from(i), 50).unwrap());
        }
        // Full of live challenges: a new one is refused, not silently accepted.
        assert!(matches!(
            store.first_use(&[9; 32], 200, 60),
            Err(ReleaseError::Storage(_))
        ));
        // Two expired: pruned, room again; the live one is still a replay.
        assert!(store.first_use(&[9; 32], 200, 102).unwrap());
        assert_eq!(store.len(), 2);
        assert!(!store.first_use(&[2; 32], 102, 102).unwrap());
    }
}
