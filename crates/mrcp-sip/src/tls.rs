//! TLS for SIP (RFC 3261 §26.2, RFC 5630 for `sips:`) and for MRCPv2 control connections
//! (RFC 6787 §4.2 `TCP/TLS/MRCPv2`, §12 security), on rustls.
//!
//! Every configuration built here speaks TLS 1.2 and 1.3 only ([`PROTOCOL_VERSIONS`]): rustls has
//! no SSL 3.0, TLS 1.0 or 1.1 code, and a hello that offers nothing newer gets a
//! `protocol_version` alert. Certificates and keys come from PEM files; errors name the file.
//!
//! - [`server_config`]: our certificate chain and key, and optionally the CA whose client
//!   certificates are required (mutual TLS).
//! - [`client_config`]: the roots that server certificates must chain to (a CA file, or the
//!   Mozilla roots of `webpki-roots` when none is given), optionally our client certificate.
//! - [`accept`] and [`connect`]: one handshake with a deadline, so a peer that opens a connection
//!   and never finishes its handshake holds only its own task, and only until the deadline.
//! - [`certificate_fingerprint`]: the `a=fingerprint` value of RFC 4572 §5 (`SHA-256 4A:AD:…`).
//!
//! The crates [`rustls`] and [`tokio_rustls`] are re-exported so that users of this crate build
//! against the same versions.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

pub use rustls;
use rustls::{
    ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion,
    crypto::CryptoProvider,
    pki_types::{
        CertificateDer, PrivateKeyDer, ServerName,
        pem::{self, PemObject},
    },
    server::WebPkiClientVerifier,
};
pub use tokio_rustls;
use tokio_rustls::{TlsAcceptor, TlsConnector, client, server};

/// The protocol versions of every configuration: TLS 1.3 and TLS 1.2, nothing older.
pub static PROTOCOL_VERSIONS: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// How long a handshake may take by default before the connection is closed.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a TLS configuration could not be built or a handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate, key or CA file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid PEM.
    #[error("{} is not valid PEM: {source}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// The PEM error.
        source: pem::Error,
    },
    /// The file holds no `CERTIFICATE` block.
    #[error("{} holds no PEM certificate", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The file holds no private key (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`).
    #[error("{} holds no PEM private key", path.display())]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// The key cannot be used (unsupported algorithm or malformed).
    #[error("the private key in {} is unusable: {source}", path.display())]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// Why rustls refused it.
        source: rustls::Error,
    },
    /// The private key is not the one of the certificate.
    #[error("the private key in {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// A CA certificate could not be added as a trust anchor.
    #[error("{} holds a certificate that cannot be a trust anchor: {source}", path.display())]
    BadCa {
        /// The CA file.
        path: PathBuf,
        /// Why it was refused.
        source: rustls::Error,
    },
    /// Another rustls configuration error.
    #[error("tls configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The client-certificate verifier could not be built (e.g. no usable CA).
    #[error("client certificate verification: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// The handshake failed (certificate refused, no common version or cipher suite, reset).
    #[error("tls handshake with {peer} failed: {source}")]
    Handshake {
        /// The peer.
        peer: SocketAddr,
        /// The error (rustls errors are wrapped in `std::io::Error` by tokio-rustls).
        source: std::io::Error,
    },
    /// The handshake did not finish in time.
    #[error("tls handshake with {peer} did not finish within {} ms", timeout.as_millis())]
    HandshakeTimeout {
        /// The peer.
        peer: SocketAddr,
        /// The limit.
        timeout: Duration,
    },
}

/// The cryptography of every configuration: rustls on *ring*.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Every certificate of a PEM file, in order (leaf first for a chain).
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|source| match source {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_owned(),
        },
        source => TlsError::Pem {
            path: path.to_owned(),
            source,
        },
    })
}

/// The trust anchors of a PEM file of CA certificates.
pub fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certificates(path)? {
        roots.add(cert).map_err(|source| TlsError::BadCa {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(roots)
}

/// The Mozilla roots (`webpki-roots`), used when no CA file is given.
pub fn webpki_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// A server configuration from PEM files: the certificate chain in `cert`, its key in `key`, and,
/// with `client_ca`, client certificates required and verified against that CA.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = load_certificates(cert)?;
    let private = load_private_key(key)?;
    let client_roots = client_ca.map(load_roots).transpose()?;
    server_config_from(chain, private, client_roots).map_err(|e| match e {
        TlsError::Config(rustls::Error::InconsistentKeys(_)) => TlsError::KeyMismatch {
            cert: cert.to_owned(),
            key: key.to_owned(),
        },
        TlsError::Config(source) => TlsError::BadKey {
            path: key.to_owned(),
            source,
        },
        other => other,
    })
}

/// A server configuration from parsed certificates; see [`server_config`].
pub fn server_config_from(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<RootCertStore>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(PROTOCOL_VERSIONS)?;
    let builder = match client_roots {
        Some(roots) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build()?,
        ),
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(builder.with_single_cert(chain, key)?))
}

/// A client configuration that trusts the CA certificates of `ca`, or the Mozilla roots without it.
pub fn client_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = match ca {
        Some(path) => load_roots(path)?,
        None => webpki_roots(),
    };
    client_config_from(roots, None)
}

/// A client configuration from trust anchors and, for servers that require one, our certificate
/// chain and key.
pub fn client_config_from(
    roots: RootCertStore,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)?
        .with_root_certificates(roots);
    Ok(Arc::new(match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
        None => builder.with_no_client_auth(),
    }))
}

/// The name a server's certificate must carry: `name` when given (a host name from a `sips:` URI
/// or the configuration), else the IP address we connect to (an IP SAN, RFC 5922 §7.2 aside).
pub fn server_name(addr: SocketAddr, name: Option<&str>) -> Result<ServerName<'static>, TlsError> {
    match name {
        Some(name) => ServerName::try_from(name.to_owned()).map_err(|_| {
            TlsError::Config(rustls::Error::General(format!(
                "{name:?} is not a valid server name"
            )))
        }),
        None => Ok(ServerName::IpAddress(addr.ip().into())),
    }
}

/// The server side of a handshake on an accepted stream, within `timeout`.
pub async fn accept<S>(
    acceptor: &TlsAcceptor,
    stream: S,
    peer: SocketAddr,
    timeout: Duration,
) -> Result<server::TlsStream<S>, TlsError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(source)) => Err(TlsError::Handshake { peer, source }),
        Err(_) => Err(TlsError::HandshakeTimeout { peer, timeout }),
    }
}

/// The client side of a handshake on a connected stream, within `timeout`; the server's
/// certificate must chain to the configuration's roots and name `name`.
pub async fn connect<S>(
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    stream: S,
    peer: SocketAddr,
    timeout: Duration,
) -> Result<client::TlsStream<S>, TlsError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let connector = TlsConnector::from(config);
    match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(source)) => Err(TlsError::Handshake { peer, source }),
        Err(_) => Err(TlsError::HandshakeTimeout { peer, timeout }),
    }
}

/// The `a=fingerprint` value of a certificate (RFC 4572 §5): `SHA-256` and the digest of its DER
/// as colon-separated uppercase hex pairs.
pub fn certificate_fingerprint(cert: &CertificateDer<'_>) -> String {
    use std::fmt::Write as _;
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    let mut out = String::from("SHA-256 ");
    for (i, byte) in digest.as_ref().iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{byte:02X}");
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn only_tls12_and_tls13_are_configured() {
        let versions: Vec<_> = PROTOCOL_VERSIONS.iter().map(|v| v.version).collect();
        assert_eq!(
            versions,
            [
                rustls::ProtocolVersion::TLSv1_3,
                rustls::ProtocolVersion::TLSv1_2
            ]
        );
        // Every cipher suite the configurations can pick is a TLS 1.2 or 1.3 suite.
        let config = client_config_from(webpki_roots(), None).unwrap();
        for suite in &config.crypto_provider().cipher_suites {
            assert!(
                matches!(
                    suite.version().version,
                    rustls::ProtocolVersion::TLSv1_2 | rustls::ProtocolVersion::TLSv1_3
                ),
                "{suite:?}"
            );
        }
    }

    #[test]
    fn fingerprint_is_sha256_in_colon_hex() {
        let fp = certificate_fingerprint(&CertificateDer::from(b"abc".to_vec()));
        // SHA-256("abc") from FIPS 180-2 appendix B.1.
        assert_eq!(
            fp,
            "SHA-256 BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn server_name_is_the_ip_unless_named() {
        let addr: SocketAddr = "127.0.0.1:5061".parse().unwrap();
        assert_eq!(
            server_name(addr, None).unwrap(),
            ServerName::IpAddress("127.0.0.1".parse::<std::net::IpAddr>().unwrap().into())
        );
        assert_eq!(
            server_name(addr, Some("mrcp.example.com"))
                .unwrap()
                .to_str(),
            "mrcp.example.com"
        );
        assert!(server_name(addr, Some("bad name!")).is_err());
    }

    #[test]
    fn missing_and_empty_files_name_the_file() {
        let dir = std::env::temp_dir().join(format!("mrcp-sip-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let err = load_certificates(&missing).unwrap_err();
        assert!(matches!(err, TlsError::Read { .. }));
        assert!(err.to_string().contains("missing.pem"), "{err}");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, b"no pem here\n").unwrap();
        assert!(matches!(
            load_certificates(&empty).unwrap_err(),
            TlsError::NoCertificate { .. }
        ));
        let err = load_private_key(&empty).unwrap_err();
        assert!(matches!(err, TlsError::NoPrivateKey { .. }), "{err}");
        assert!(err.to_string().contains("empty.pem"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
