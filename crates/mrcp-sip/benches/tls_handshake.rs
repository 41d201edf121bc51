//! The CPU cost of a TLS handshake as the server and the client configure it (`mrcp_sip::tls`): full
//! handshakes (no resumption) with an ECDSA P-256 certificate made by rcgen, in memory (no sockets), for
//! TLS 1.3 and TLS 1.2. One iteration is both sides of one handshake, so handshakes per second for the
//! server alone are higher.
//!
//! `cargo bench -p mrcp-sip --bench tls_handshake`
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use mrcp_sip::tls::{
    self, PROTOCOL_VERSIONS,
    rustls::{
        ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection,
        client::Resumption,
        pki_types::{PrivatePkcs8KeyDer, ServerName},
    },
};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

fn configs(
    version: &'static tls::rustls::SupportedProtocolVersion,
) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let server = tls::server_config_from(
        vec![leaf.der().clone()],
        PrivatePkcs8KeyDer::from(leaf_key.serialize_der()).into(),
        None,
    )
    .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    assert!(PROTOCOL_VERSIONS.contains(&version));
    let mut client = ClientConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.resumption = Resumption::disabled();
    (Arc::new(client), server)
}

/// Moves every pending record from one side to the other.
fn pump(
    from: &mut impl std::ops::DerefMut<Target = tls::rustls::ConnectionCommon<impl Sized>>,
    to: &mut impl std::ops::DerefMut<Target = tls::rustls::ConnectionCommon<impl Sized>>,
    buf: &mut Vec<u8>,
) {
    buf.clear();
    while from.wants_write() {
        from.write_tls(buf).unwrap();
    }
    let mut slice = buf.as_slice();
    while !slice.is_empty() {
        to.read_tls(&mut slice).unwrap();
    }
    to.process_new_packets().unwrap();
}

fn handshake(client: &Arc<ClientConfig>, server: &Arc<ServerConfig>, buf: &mut Vec<u8>) {
    let name = ServerName::IpAddress("127.0.0.1".parse::<std::net::IpAddr>().unwrap().into());
    let mut c = ClientConnection::new(client.clone(), name).unwrap();
    let mut s = ServerConnection::new(server.clone()).unwrap();
    while c.is_handshaking() || s.is_handshaking() {
        pump(&mut c, &mut s, buf);
        pump(&mut s, &mut c, buf);
    }
}

fn bench(c: &mut Criterion) {
    let mut buf = Vec::with_capacity(16 * 1024);
    for (name, version) in [
        ("tls13_full_handshake", &tls::rustls::version::TLS13),
        ("tls12_full_handshake", &tls::rustls::version::TLS12),
    ] {
        let (client, server) = configs(version);
        c.bench_function(name, |b| b.iter(|| handshake(&client, &server, &mut buf)));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
