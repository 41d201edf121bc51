use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

fn policy(hosts: &[&str], allow_private: bool) -> FetchPolicy {
    FetchPolicy::new(&FetchConfig {
        allowed_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        allow_private_addresses: allow_private,
        ..FetchConfig::default()
    })
    .expect("valid policy")
}

fn url(text: &str) -> Url {
    Url::parse(text).expect("test URL")
}

#[test]
fn internal_addresses_are_refused_unless_listed() {
    let open = policy(&[], false);
    for internal in [
        "http://127.0.0.1/g.grxml",
        "http://10.0.0.7/g.grxml",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/g.grxml",
        "http://[fd00::1]/g.grxml",
        "http://[::ffff:192.168.1.1]/g.grxml",
        "http://100.64.0.1/g.grxml",
    ] {
        assert!(open.check_url(&url(internal)).is_err(), "{internal}");
    }
    assert!(open.check_url(&url("http://93.184.215.14/g.grxml")).is_ok());
    assert!(
        open.check_url(&url("https://grammars.example.com/g"))
            .is_ok()
    );
    assert!(
        policy(&["127.0.0.1"], false)
            .check_url(&url("http://127.0.0.1:8000/g"))
            .is_ok()
    );
    assert!(
        policy(&[], true)
            .check_url(&url("http://10.0.0.7/g"))
            .is_ok()
    );
}

#[test]
fn a_host_list_restricts_names_and_addresses() {
    let listed = policy(&["*.example.com", "prompts.test", "192.0.2.0/24"], false);
    assert!(listed.check_url(&url("https://a.example.com/x")).is_ok());
    assert!(listed.check_url(&url("https://PROMPTS.test/x")).is_ok());
    assert!(listed.check_url(&url("https://example.org/x")).is_err());
    assert!(listed.check_url(&url("http://192.0.2.9/x")).is_ok());
    assert!(listed.check_url(&url("http://198.51.100.1/x")).is_err());
    // A listed name may resolve to a private address; an unlisted one may not.
    let ip: IpAddr = "10.0.0.1".parse().expect("ip");
    assert!(listed.check_address(Some("a.example.com"), ip).is_ok());
    assert!(
        policy(&[], false)
            .check_address(Some("evil.test"), ip)
            .is_err()
    );
}

#[test]
fn schemes_are_checked_and_file_needs_roots() {
    let open = policy(&[], false);
    let error = open
        .check_url(&url("ftp://example.com/g"))
        .expect_err("ftp");
    assert!(error.contains("allowed_schemes"), "{error}");
    assert!(open.check_url(&url("file:///etc/passwd")).is_err());
    let error = FetchPolicy::new(&FetchConfig {
        allowed_schemes: vec!["file".to_owned()],
        ..FetchConfig::default()
    })
    .expect_err("file without roots");
    assert!(error.to_string().contains("fetch.file_roots"), "{error}");
    let error = FetchPolicy::new(&FetchConfig {
        allowed_hosts: vec!["not a host!".to_owned()],
        ..FetchConfig::default()
    })
    .expect_err("bad host");
    assert!(error.to_string().contains("fetch.allowed_hosts"), "{error}");
}

/// A one-shot HTTP/1.1 server on loopback answering every request with `response`.
async fn serve(response: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = socket.write_all(response).await;
            });
        }
    });
    addr
}

fn loopback_fetcher(max_bytes: usize) -> Fetcher {
    Fetcher::new(&FetchConfig {
        allowed_hosts: vec!["127.0.0.1".to_owned()],
        max_bytes,
        timeout_ms: 2_000,
        ..FetchConfig::default()
    })
    .expect("fetcher")
}

#[tokio::test]
async fn fetches_a_document_with_its_headers() {
    let addr = serve(b"HTTP/1.1 200 OK\r\nContent-Type: application/srgs+xml\r\nCache-Control: max-age=60\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello").await;
    let fetched = loopback_fetcher(1024)
        .fetch(&format!("http://{addr}/menu.grxml"))
        .await
        .expect("fetch");
    assert_eq!(&fetched.body[..], b"hello");
    assert_eq!(
        fetched.content_type.as_deref(),
        Some("application/srgs+xml")
    );
    assert_eq!(fetched.cache_control.as_deref(), Some("max-age=60"));
}

#[tokio::test]
async fn errors_name_the_problem() {
    let missing =
        serve(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
    let uri = format!("http://{missing}/nope.grxml");
    assert_eq!(
        loopback_fetcher(1024).fetch(&uri).await.expect_err("404"),
        FetchError::Status { uri, status: 404 }
    );

    let big = serve(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789abcdef").await;
    let error = loopback_fetcher(8)
        .fetch(&format!("http://{big}/big"))
        .await
        .expect_err("too large");
    assert!(
        matches!(error, FetchError::TooLarge { limit: 8, .. }),
        "{error}"
    );

    let refused = Fetcher::new(&FetchConfig::default())
        .expect("fetcher")
        .fetch(&format!("http://{big}/big"))
        .await
        .expect_err("loopback refused by default");
    assert!(matches!(refused, FetchError::Forbidden { .. }), "{refused}");

    let malformed = loopback_fetcher(8)
        .fetch("not a uri")
        .await
        .expect_err("bad");
    assert!(matches!(malformed, FetchError::Malformed { .. }));
}

#[tokio::test]
async fn a_redirect_to_an_internal_address_is_refused() {
    // The first hop is allowed (listed); its redirect points at an address that is not.
    let redirect =
        serve(b"HTTP/1.1 302 Found\r\nLocation: http://10.255.255.1/secret\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
    let error = loopback_fetcher(1024)
        .fetch(&format!("http://{redirect}/start"))
        .await
        .expect_err("redirect refused");
    assert!(
        error.to_string().contains("not in fetch.allowed_hosts"),
        "{error}"
    );
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let _keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let fetcher = Fetcher::new(&FetchConfig {
        allowed_hosts: vec!["127.0.0.1".to_owned()],
        timeout_ms: 200,
        ..FetchConfig::default()
    })
    .expect("fetcher");
    let error = fetcher
        .fetch(&format!("http://{addr}/slow"))
        .await
        .expect_err("timeout");
    assert!(
        matches!(error, FetchError::Timeout { ms: 200, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn files_are_read_only_below_their_roots() {
    let root = std::env::temp_dir().join(format!("mrcp-fetch-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::write(root.join("yes.grxml"), "<grammar/>").expect("write");
    let fetcher = Fetcher::new(&FetchConfig {
        allowed_schemes: vec!["file".to_owned()],
        file_roots: vec![root.clone()],
        ..FetchConfig::default()
    })
    .expect("fetcher");
    let fetched = fetcher
        .fetch(&format!("file://{}/yes.grxml", root.display()))
        .await
        .expect("inside the root");
    assert_eq!(
        fetched.content_type.as_deref(),
        Some("application/srgs+xml")
    );
    let escape = fetcher
        .fetch(&format!("file://{}/../../etc/hostname", root.display()))
        .await
        .expect_err("outside the root");
    assert!(
        matches!(
            escape,
            FetchError::Forbidden { .. } | FetchError::Unreachable { .. }
        ),
        "{escape}"
    );
    let _ = std::fs::remove_dir_all(root);
}
