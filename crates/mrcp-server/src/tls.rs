//! TLS for the server: SIP over TLS (RFC 3261 §26.2, `sips:` of RFC 5630) and MRCPv2 over TLS (RFC 6787 §4.2
//! `TCP/TLS/MRCPv2`, §12 security), on rustls with TLS 1.2 and 1.3 only.
//!
//! ## Configuration
//!
//! ```toml
//! [tls]
//! cert = "/etc/mrcp-server/tls/server.crt"   # PEM chain, leaf first        (--tls-cert FILE)
//! key = "/etc/mrcp-server/tls/server.key"    # PEM key of the leaf          (--tls-key FILE)
//! # client_ca = "/etc/mrcp-server/tls/clients.crt"  # require client certificates issued by this CA
//! # sip_listen = "0.0.0.0:5061"             # SIP over TLS                 (--sip-tls-listen ADDR:PORT)
//! # mrcp_listen = "0.0.0.0:1545"            # MRCPv2 over TLS              (--mrcp-tls-listen ADDR:PORT)
//! # handshake_timeout_ms = 10000
//! ```
//!
//! With `cert` and `key` set, the server listens for SIP over TLS beside UDP and TCP, and for MRCP over TLS
//! beside MRCP over TCP. Start-up checks the files and stops with an error naming the key and the file: a
//! missing or unreadable file, a file with no PEM certificate or key, a key that is not the certificate's, a
//! CA that cannot be a trust anchor. Once listening, the binary prints `sip TLS <addr>` with the other SIP
//! lines and `mrcp tls <addr>` just before `mrcp tcp <addr>`.
//!
//! ## What a client sees
//!
//! - SIP: an INVITE to `sips:…` over TLS is answered over the same connection, with a `sips:` Contact.
//! - SDP: an offer whose `m=application` proto is `TCP/TLS/MRCPv2` gets an answer with the same proto, the MRCP
//!   TLS port, and `a=fingerprint` with the SHA-256 of our certificate (RFC 4572 §5). Without TLS configured
//!   such an offer gets 488.
//! - MRCP: the control connection is TLS; each connection's handshake runs in its own task and is closed after
//!   `handshake_timeout_ms`, so a peer that never finishes it delays nobody.
//! - With `client_ca`, a client without a certificate from that CA is refused during the handshake, on SIP
//!   and on MRCP.
//!
//! SSL 3.0, TLS 1.0 and 1.1 are not implemented by rustls; a client offering nothing newer gets a fatal alert.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mrcp_sip::tls::rustls::ServerConfig;
use mrcp_sip::tls::tokio_rustls::TlsAcceptor;
use mrcp_sip::tls::{self, TlsError};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{ConfigError, TlsConfig};
use crate::control::{self, ControlConfig, SessionRegistry};

/// The loaded TLS side of the server.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The rustls configuration of both listeners.
    pub config: Arc<ServerConfig>,
    /// `a=fingerprint` of our certificate (RFC 4572 §5).
    pub fingerprint: String,
    /// Where SIP over TLS listens.
    pub sip_listen: SocketAddr,
    /// Where MRCP over TLS listens.
    pub mrcp_listen: SocketAddr,
    /// How long a handshake may take.
    pub handshake_timeout: Duration,
}

fn file_error(key: &str, error: TlsError) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        problem: error.to_string(),
    }
}

impl ServerTls {
    /// Reads the files of `[tls]`; `None` when TLS is not configured. Errors name the key and the file.
    pub fn load(config: &TlsConfig) -> Result<Option<ServerTls>, ConfigError> {
        config.validate()?;
        let (Some(cert), Some(key)) = (&config.cert, &config.key) else {
            return Ok(None);
        };
        let chain = tls::load_certificates(cert).map_err(|e| file_error("tls.cert", e))?;
        let private = tls::load_private_key(key).map_err(|e| file_error("tls.key", e))?;
        let client_roots = config
            .client_ca
            .as_deref()
            .map(tls::load_roots)
            .transpose()
            .map_err(|e| file_error("tls.client_ca", e))?;
        let fingerprint = chain
            .first()
            .map(tls::certificate_fingerprint)
            .unwrap_or_default();
        let server = tls::server_config_from(chain, private, client_roots)
            .map_err(|e| rustls_error(e, cert, key))?;
        Ok(Some(ServerTls {
            config: server,
            fingerprint,
            sip_listen: config.sip_listen.unwrap_or(TlsConfig::DEFAULT_SIP_LISTEN),
            mrcp_listen: config.mrcp_listen.unwrap_or(TlsConfig::DEFAULT_MRCP_LISTEN),
            handshake_timeout: config.handshake_timeout(),
        }))
    }
}

/// Names the key at fault when rustls refuses the certificate and key together.
fn rustls_error(error: TlsError, cert: &Path, key: &Path) -> ConfigError {
    match error {
        TlsError::Config(tls::rustls::Error::InconsistentKeys(_)) => file_error(
            "tls.key",
            TlsError::KeyMismatch {
                cert: cert.to_owned(),
                key: key.to_owned(),
            },
        ),
        TlsError::Verifier(e) => file_error("tls.client_ca", TlsError::Verifier(e)),
        TlsError::Config(source) => file_error(
            "tls.key",
            TlsError::BadKey {
                path: key.to_owned(),
                source,
            },
        ),
        other => file_error("tls.cert", other),
    }
}

/// Accepts MRCP control connections over TLS until `shutdown`: each connection's handshake runs in its own task
/// within `handshake_timeout`, then the connection is served exactly as a TCP one ([`control::run_connection`]).
pub async fn serve_mrcp(
    listener: TcpListener,
    tls: ServerTls,
    registry: Arc<SessionRegistry>,
    config: ControlConfig,
    shutdown: CancellationToken,
) {
    let acceptor = TlsAcceptor::from(tls.config);
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!(error = %e, "MRCP TLS accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (acceptor, registry, config, shutdown) = (
            acceptor.clone(),
            registry.clone(),
            config.clone(),
            shutdown.clone(),
        );
        let timeout = tls.handshake_timeout;
        tokio::spawn(async move {
            let handshake = tokio::select! {
                () = shutdown.cancelled() => return,
                r = tls::accept(&acceptor, stream, peer, timeout) => r,
            };
            match handshake {
                Ok(stream) => {
                    let id = control::next_connection_id();
                    control::run_connection(stream, id, peer, registry, config, shutdown).await;
                }
                // A scanner, a client that does not trust us, or one without the required certificate.
                Err(error) => info!(%peer, %error, "MRCP TLS handshake failed"),
            }
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            let dir =
                std::env::temp_dir().join(format!("mrcp-server-tls-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn pair() -> (String, String) {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        (c.cert.pem(), c.signing_key.serialize_pem())
    }

    fn config(cert: &Path, key: &Path) -> TlsConfig {
        TlsConfig {
            cert: Some(cert.to_owned()),
            key: Some(key.to_owned()),
            ..TlsConfig::default()
        }
    }

    fn error(config: &TlsConfig) -> String {
        ServerTls::load(config).unwrap_err().to_string()
    }

    #[test]
    fn loads_a_certificate_and_key_with_defaults() {
        let dir = Dir::new("ok");
        let (cert, key) = pair();
        let (cert, key) = (dir.write("cert.pem", &cert), dir.write("key.pem", &key));
        let tls = ServerTls::load(&config(&cert, &key)).unwrap().unwrap();
        assert_eq!(tls.sip_listen.port(), 5061);
        assert_eq!(tls.mrcp_listen.port(), 1545);
        assert_eq!(tls.handshake_timeout, Duration::from_secs(10));
        assert!(
            tls.fingerprint.starts_with("SHA-256 "),
            "{}",
            tls.fingerprint
        );
        assert!(ServerTls::load(&TlsConfig::default()).unwrap().is_none());
    }

    #[test]
    fn errors_name_the_key_and_the_file() {
        let dir = Dir::new("errors");
        let (cert, key) = pair();
        let (cert, key) = (dir.write("cert.pem", &cert), dir.write("key.pem", &key));
        let missing = dir.0.join("nowhere.pem");

        let e = error(&config(&missing, &key));
        assert!(e.contains("tls.cert") && e.contains("nowhere.pem"), "{e}");

        let garbage = dir.write(
            "garbage.pem",
            "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
        );
        let e = error(&config(&cert, &garbage));
        assert!(e.contains("tls.key") && e.contains("garbage.pem"), "{e}");

        let e = error(&config(&cert, &cert));
        assert!(
            e.contains("tls.key") && e.contains("holds no PEM private key"),
            "{e}"
        );

        let (_, other_key) = pair();
        let other_key = dir.write("other-key.pem", &other_key);
        let e = error(&config(&cert, &other_key));
        assert!(
            e.contains("tls.key")
                && e.contains("does not match")
                && e.contains("other-key.pem")
                && e.contains("cert.pem"),
            "{e}"
        );

        let mut with_ca = config(&cert, &key);
        with_ca.client_ca = Some(dir.0.join("no-ca.pem"));
        let e = error(&with_ca);
        assert!(
            e.contains("tls.client_ca") && e.contains("no-ca.pem"),
            "{e}"
        );
    }
}
