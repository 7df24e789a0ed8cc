//! TLS for both ends of the release protocol, with rustls on the AWS-LC provider (the library
//! the verifiers already use; no second crypto library).
//!
//! - Client ([`ClientTls`]): `https://` with the system's roots or a CA bundle given as PEM
//!   (`coco fetch-key --ca FILE`). Plain `http://` only to a loopback host, or when the caller
//!   says explicitly that TLS is terminated elsewhere ([`ClientTls::allow_plain_http`]).
//! - Service ([`ServerTls`], feature `server`): a certificate chain and its private key as PEM
//!   (`coco serve --tls-cert --tls-key`); TLS 1.3 only.
//!
//! The data key travels HPKE-wrapped to the attested workload key and the workload checks the
//! service's EAR against a pinned key, so TLS is not what keeps the key secret; it keeps the
//! evidence, the EAR and the key ids away from the network, and the service authenticated to
//! the client before anything is sent.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up, or a URL is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM input holds nothing usable.
    #[error("{what}: {reason}")]
    Pem {
        /// Which input (`certificate chain`, `private key`, `CA bundle`).
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the certificate and key (e.g. the key does not belong to the
    /// certificate, or its type is not supported).
    #[error("TLS configuration: {0}")]
    Config(String),
    /// The system's root certificates could not be loaded (and no CA bundle was given).
    #[error("system root certificates: {0} (give the service's CA with --ca)")]
    SystemRoots(String),
    /// Plain `http://` to a host other than loopback, without the explicit permission.
    #[error(
        "{url}: plain HTTP to a host other than loopback; use https:// (or allow plain HTTP \
         explicitly where TLS is terminated in front of the service)"
    )]
    PlainHttp {
        /// The URL refused.
        url: String,
    },
    /// Not an `http://` or `https://` URL.
    #[error("{url}: {reason}")]
    Url {
        /// The URL refused.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The crypto provider of every TLS connection coco makes or accepts: AWS-LC.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Every certificate of a PEM bundle (DER), in order; an error when there is none.
pub fn certs_from_pem(
    what: &'static str,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what,
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what,
            reason: "no CERTIFICATE block".into(),
        });
    }
    Ok(certs)
}

/// The first private key of a PEM input (PKCS#8, SEC1 or PKCS#1).
pub fn key_from_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| TlsError::Pem {
        what: "private key",
        reason: match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                "no PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block".into()
            }
            e => e.to_string(),
        },
    })
}

/// What a client trusts and allows.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// Trust only these CA certificates (PEM bundle) instead of the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Allow `http://` to hosts other than loopback (TLS terminated by something in front of
    /// the service on a trusted network). Off by default.
    pub allow_plain_http: bool,
}

/// Whether `url` may be used under `tls`: `https://` always, `http://` to loopback
/// (`127.0.0.0/8`, `::1`, `localhost`) or with [`ClientTls::allow_plain_http`]. Returns
/// whether the URL is `https`.
pub fn check_url(url: &str, tls: &ClientTls) -> Result<bool, TlsError> {
    let bad = |reason| TlsError::Url {
        url: url.to_string(),
        reason,
    };
    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|_| bad("not a URL (e.g. https://keys.example:8443)"))?;
    let host = uri.host().ok_or_else(|| bad("no host"))?;
    match uri.scheme_str() {
        Some("https") => Ok(true),
        Some("http") => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback || tls.allow_plain_http {
                Ok(false)
            } else {
                Err(TlsError::PlainHttp {
                    url: url.to_string(),
                })
            }
        }
        _ => Err(bad("not an http:// or https:// URL")),
    }
}

/// ureq's TLS settings for `tls`: rustls on AWS-LC, the given CA or the system's roots.
pub(crate) fn ureq_config(tls: &ClientTls) -> Result<ureq::tls::TlsConfig, TlsError> {
    let roots: Vec<ureq::tls::Certificate<'static>> = match &tls.ca_pem {
        Some(pem) => certs_from_pem("CA bundle", pem)?
            .iter()
            .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
            .collect(),
        None => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                let why = found
                    .errors
                    .first()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "none found".into());
                return Err(TlsError::SystemRoots(why));
            }
            found
                .certs
                .iter()
                .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
                .collect()
        }
    };
    Ok(ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(provider())
        .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
        .build())
}

/// The service's TLS identity: a certificate chain (leaf first) and its private key.
#[cfg(feature = "server")]
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
}

#[cfg(feature = "server")]
impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTls")
    }
}

#[cfg(feature = "server")]
impl ServerTls {
    /// From a PEM certificate chain (leaf first) and a PEM private key that belongs to the
    /// leaf. TLS 1.3 only; HTTP/1.1 announced through ALPN.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        let chain = certs_from_pem("certificate chain", chain_pem)?;
        let key = key_from_pem(key_pem)?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }

    pub(crate) fn config(&self) -> Arc<rustls::ServerConfig> {
        self.config.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_or_when_allowed() {
        let strict = ClientTls::default();
        for ok in [
            "http://127.0.0.1:8443",
            "http://127.1.2.3",
            "http://[::1]:8443",
            "http://localhost:80/",
            "https://keys.example",
        ] {
            assert!(check_url(ok, &strict).is_ok(), "{ok}");
        }
        assert!(check_url("https://keys.example", &strict).unwrap());
        for bad in [
            "http://10.0.0.1:8443",
            "http://keys.example",
            "http://localhost.evil",
        ] {
            assert!(
                matches!(check_url(bad, &strict), Err(TlsError::PlainHttp { url }) if url == bad),
                "{bad}"
            );
        }
        let lax = ClientTls {
            allow_plain_http: true,
            ..ClientTls::default()
        };
        assert!(!check_url("http://keys.example", &lax).unwrap());
        for bad in ["ftp://keys.example", "keys.example:8443", "http://"] {
            assert!(
                matches!(check_url(bad, &lax), Err(TlsError::Url { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn pem_inputs_say_what_is_missing() {
        assert!(matches!(
            certs_from_pem("CA bundle", b"nothing here"),
            Err(TlsError::Pem {
                what: "CA bundle",
                ..
            })
        ));
        assert!(matches!(
            key_from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            Err(TlsError::Pem {
                what: "private key",
                ..
            })
        ));
    }
}
