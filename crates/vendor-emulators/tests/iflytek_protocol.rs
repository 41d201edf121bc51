//! The iFlytek emulator enforces the documented signature and frame rules, driven by a raw client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio_tungstenite::tungstenite::{Error, Message};
use vendor_emulators::iflytek::{Emulator, Script};

const APP: &str = "app";
const KEY: &str = "key";
const SECRET: &str = "secret";

fn enc(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A URL signed at `at` the documented way (written here again, independently of the adapter).
fn signed(emulator: &Emulator, at: SystemTime, secret: &str) -> String {
    let host = emulator.addr().to_string();
    let date = httpdate::fmt_http_date(at);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("host: {host}\ndate: {date}\nGET /v2/iat HTTP/1.1").as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    let origin = format!(
        "api_key=\"{KEY}\", algorithm=\"hmac-sha256\", headers=\"host date request-line\", signature=\"{signature}\""
    );
    format!(
        "{}?authorization={}&date={}&host={}",
        emulator.iat_url(),
        enc(&STANDARD.encode(origin)),
        enc(&date),
        enc(&host)
    )
}

async fn refused(url: &str) -> (u16, String) {
    match tokio_tungstenite::connect_async(url).await {
        Err(Error::Http(r)) => (
            r.status().as_u16(),
            String::from_utf8_lossy(r.body().as_deref().unwrap_or_default()).into_owned(),
        ),
        Ok(_) => panic!("accepted"),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn signatures_dates_and_missing_authorization_are_checked() {
    let emulator = Emulator::start(Script::new(APP, KEY, SECRET, "yes"))
        .await
        .unwrap();
    let now = SystemTime::now();
    assert!(
        tokio_tungstenite::connect_async(signed(&emulator, now, SECRET))
            .await
            .is_ok()
    );
    assert_eq!(
        refused(&signed(&emulator, now, "wrong")).await,
        (
            401,
            r#"{"message":"HMAC signature does not match"}"#.to_owned()
        )
    );
    let (status, body) = refused(&signed(&emulator, now - Duration::from_secs(301), SECRET)).await;
    assert_eq!(status, 403);
    assert!(
        body.contains("a valid date or x-date header is required"),
        "{body}"
    );
    assert_eq!(
        refused(&emulator.iat_url()).await,
        (401, r#"{"message":"Unauthorized"}"#.to_owned())
    );
}

async fn first_error(emulator: &Emulator, frames: &[&str]) -> i64 {
    let (mut ws, _) = tokio_tungstenite::connect_async(signed(emulator, SystemTime::now(), SECRET))
        .await
        .unwrap();
    for f in frames {
        ws.send(Message::text(f.to_string())).await.unwrap();
    }
    let wait = async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                let code = v["code"].as_i64().unwrap();
                if code != 0 {
                    return code;
                }
            }
        }
        0
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap()
}

#[tokio::test]
async fn frames_are_checked_in_order() {
    let emulator = Emulator::start(Script::new(APP, KEY, SECRET, "yes"))
        .await
        .unwrap();
    let data1 =
        r#"{"data":{"status":1,"format":"audio/L16;rate=8000","encoding":"raw","audio":""}}"#;
    assert_eq!(
        first_error(&emulator, &[data1]).await,
        10163,
        "first frame must be status 0"
    );
    let no_app = r#"{"business":{"language":"zh_cn","domain":"iat","accent":"mandarin"},"data":{"status":0,"format":"audio/L16;rate=8000","encoding":"raw","audio":""}}"#;
    assert_eq!(first_error(&emulator, &[no_app]).await, 10313);
    let no_business = r#"{"common":{"app_id":"app"},"data":{"status":0,"format":"audio/L16;rate=8000","encoding":"raw","audio":""}}"#;
    assert_eq!(first_error(&emulator, &[no_business]).await, 10163);
    let bad_b64 = r#"{"common":{"app_id":"app"},"business":{"language":"zh_cn","domain":"iat","accent":"mandarin"},"data":{"status":0,"format":"audio/L16;rate=8000","encoding":"raw","audio":"***"}}"#;
    assert_eq!(first_error(&emulator, &[bad_b64]).await, 10161);
    assert_eq!(first_error(&emulator, &["not json"]).await, 10160);
}
