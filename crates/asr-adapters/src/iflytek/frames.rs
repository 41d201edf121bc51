//! The JSON frames of iFlytek's streaming dictation (IAT), sans-IO: the client's audio frames, the
//! service's result frames, the assembly of dynamic-correction results (`pgs` `apd`/`rpl`), and the error
//! codes.
//!
//! Followed: iFlytek's "语音听写（流式版）WebAPI 文档" (接口数据传输与接收, 动态修正返回结果, 错误码): frames are
//! JSON text; `data.status` 0 is the first frame (it carries `common.app_id` and `business`), 1 continues,
//! 2 ends; audio is base64; each result has a sequence number `sn`; with `dwa=wpgs` a result with
//! `pgs:"rpl"` replaces the results `rg[0]..=rg[1]`; `data.status` 2 in a response is the last result.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mrcp_proto::engine::EngineErrorKind;
use serde::Deserialize;

/// The `business` parameters of the first frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Business {
    /// `language`: `zh_cn`, `en_us`…
    pub language: String,
    /// `domain`: `iat` (dictation).
    pub domain: String,
    /// `accent`: `mandarin`…
    pub accent: String,
    /// `vad_eos`: trailing silence, in ms, after which the service ends the utterance itself.
    pub vad_eos_ms: u32,
    /// `dwa=wpgs`: dynamic correction (Chinese only; enabled in the console).
    pub dynamic_correction: bool,
}

/// The `format` of PCM at `rate`.
pub fn format(rate: u32) -> String {
    format!("audio/L16;rate={rate}")
}

/// The first frame: `common`, `business` and the first audio.
pub fn first_frame(app_id: &str, business: &Business, rate: u32, pcm: &[u8]) -> String {
    let mut b = serde_json::json!({
        "language": business.language,
        "domain": business.domain,
        "accent": business.accent,
        "vad_eos": business.vad_eos_ms,
    });
    if business.dynamic_correction {
        b["dwa"] = "wpgs".into();
    }
    serde_json::json!({
        "common": {"app_id": app_id},
        "business": b,
        "data": {"status": 0, "format": format(rate), "encoding": "raw", "audio": STANDARD.encode(pcm)},
    })
    .to_string()
}

/// A continuation frame (`status` 1) or the last frame (`status` 2, usually with no audio).
pub fn audio_frame(status: u8, rate: u32, pcm: &[u8]) -> String {
    serde_json::json!({
        "data": {"status": status, "format": format(rate), "encoding": "raw", "audio": STANDARD.encode(pcm)},
    })
    .to_string()
}

/// A response frame.
#[derive(Debug, Clone, Deserialize)]
pub struct Response {
    /// 0 on success, an error code otherwise.
    pub code: i64,
    /// The service's message.
    #[serde(default)]
    pub message: String,
    /// The session id (first response only).
    #[serde(default)]
    pub sid: Option<String>,
    /// The result, absent on errors.
    #[serde(default)]
    pub data: Option<ResponseData>,
}

/// `data` of a response.
#[derive(Debug, Clone, Deserialize)]
pub struct ResponseData {
    /// 2 on the last result.
    #[serde(default)]
    pub status: u8,
    /// The recognition result.
    #[serde(default)]
    pub result: Option<IatResult>,
}

/// `data.result`.
#[derive(Debug, Clone, Deserialize)]
pub struct IatResult {
    /// Sequence number of this result.
    pub sn: u32,
    /// Whether this is the last result.
    #[serde(default)]
    pub ls: bool,
    /// `apd` (append) or `rpl` (replace), with dynamic correction.
    #[serde(default)]
    pub pgs: Option<String>,
    /// With `rpl`: the first and last `sn` replaced.
    #[serde(default)]
    pub rg: Option<[u32; 2]>,
    /// The words.
    #[serde(default)]
    pub ws: Vec<WordSlot>,
}

/// One word position.
#[derive(Debug, Clone, Deserialize)]
pub struct WordSlot {
    /// Candidates, best first.
    #[serde(default)]
    pub cw: Vec<Candidate>,
}

/// One candidate word.
#[derive(Debug, Clone, Deserialize)]
pub struct Candidate {
    /// The word.
    #[serde(default)]
    pub w: String,
}

impl IatResult {
    /// The text: the best candidate of each slot, joined.
    pub fn text(&self) -> String {
        self.ws
            .iter()
            .filter_map(|slot| slot.cw.first())
            .map(|c| c.w.as_str())
            .collect()
    }
}

/// Puts results together in `sn` order, applying `rpl` replacements.
#[derive(Debug, Default, Clone)]
pub struct Transcript {
    segments: BTreeMap<u32, String>,
}

/// At most this many result segments are kept; a service sending more is misbehaving.
const MAX_SEGMENTS: usize = 4096;

impl Transcript {
    /// Adds one result.
    pub fn apply(&mut self, result: &IatResult) {
        if result.pgs.as_deref() == Some("rpl")
            && let Some([first, last]) = result.rg
        {
            let keys: Vec<u32> = self
                .segments
                .range(first.min(last)..=last.max(first))
                .map(|(k, _)| *k)
                .collect();
            for k in keys {
                self.segments.remove(&k);
            }
        }
        if self.segments.len() < MAX_SEGMENTS || self.segments.contains_key(&result.sn) {
            self.segments.insert(result.sn, result.text());
        }
    }

    /// The text so far.
    pub fn text(&self) -> String {
        let joined: String = self.segments.values().map(String::as_str).collect();
        joined.trim().to_owned()
    }
}

/// The kind of an IAT error code (错误码 table of the IAT document; codes not listed are internal).
pub fn error_kind(code: i64) -> EngineErrorKind {
    match code {
        // app_id missing or invalid, not authorized for the service or the language.
        10105 | 10313 | 11200 => EngineErrorKind::Auth,
        // Daily quota exhausted, licences (concurrency) exhausted, engine busy.
        11201 | 11202 | 11203 | 10010 | 10700 => EngineErrorKind::Unavailable,
        // Bad JSON, bad base64, invalid parameters, bad audio, version.
        10106 | 10107 | 10160 | 10161 | 10163 | 10043 | 10006 | 10007 | 10317 => {
            EngineErrorKind::BadRequest
        }
        // Session or read timeouts.
        10114 | 10200 | 10014 | 10019 => EngineErrorKind::Timeout,
        _ => EngineErrorKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(json: &str) -> IatResult {
        let r: Response = serde_json::from_str(json).expect("response");
        r.data.and_then(|d| d.result).expect("result")
    }

    #[test]
    fn the_first_frame_carries_common_business_and_audio() {
        let business = Business {
            language: "en_us".into(),
            domain: "iat".into(),
            accent: "mandarin".into(),
            vad_eos_ms: 3000,
            dynamic_correction: true,
        };
        let v: serde_json::Value =
            serde_json::from_str(&first_frame("app1", &business, 8000, &[1, 0])).expect("json");
        assert_eq!(v["common"]["app_id"], "app1");
        assert_eq!(v["business"]["dwa"], "wpgs");
        assert_eq!(v["data"]["status"], 0);
        assert_eq!(v["data"]["format"], "audio/L16;rate=8000");
        assert_eq!(v["data"]["audio"], "AQA=");
        let last: serde_json::Value =
            serde_json::from_str(&audio_frame(2, 8000, &[])).expect("json");
        assert_eq!(last["data"]["status"], 2);
        assert!(last.get("common").is_none());
    }

    #[test]
    fn dynamic_correction_replaces_earlier_results() {
        let mut t = Transcript::default();
        t.apply(&result(r#"{"code":0,"message":"success","sid":"iat1","data":{"status":0,"result":{"sn":1,"ls":false,"bg":0,"ed":0,"pgs":"apd","ws":[{"bg":0,"cw":[{"sc":0,"w":"今天"}]}]}}}"#));
        assert_eq!(t.text(), "今天");
        t.apply(&result(r#"{"code":0,"message":"success","data":{"status":1,"result":{"sn":2,"ls":false,"pgs":"rpl","rg":[1,1],"ws":[{"cw":[{"w":"今天"}]},{"cw":[{"w":"天气"}]}]}}}"#));
        assert_eq!(t.text(), "今天天气");
        t.apply(&result(r#"{"code":0,"message":"success","data":{"status":2,"result":{"sn":3,"ls":true,"pgs":"apd","ws":[{"cw":[{"w":"很好"}]}]}}}"#));
        assert_eq!(t.text(), "今天天气很好");
    }

    #[test]
    fn without_correction_results_append() {
        let mut t = Transcript::default();
        t.apply(&result(
            r#"{"code":0,"data":{"status":1,"result":{"sn":1,"ws":[{"cw":[{"w":"yes"}]}]}}}"#,
        ));
        t.apply(&result(r#"{"code":0,"data":{"status":2,"result":{"sn":2,"ls":true,"ws":[{"cw":[{"w":" please"}]}]}}}"#));
        assert_eq!(t.text(), "yes please");
    }

    #[test]
    fn error_codes_have_kinds() {
        assert_eq!(error_kind(11200), EngineErrorKind::Auth);
        assert_eq!(error_kind(11201), EngineErrorKind::Unavailable);
        assert_eq!(error_kind(10163), EngineErrorKind::BadRequest);
        assert_eq!(error_kind(10200), EngineErrorKind::Timeout);
        assert_eq!(error_kind(99999), EngineErrorKind::Internal);
        let r: Response =
            serde_json::from_str(r#"{"code":10165,"message":"invalid handle","sid":"x"}"#)
                .expect("error response");
        assert_eq!((r.code, r.data.is_none()), (10165, true));
    }

    proptest::proptest! {
        #[test]
        fn any_result_sequence_assembles_without_panicking(
            steps in proptest::collection::vec((0u32..50, proptest::bool::ANY, 0u32..60, 0u32..60, "[a-z ]{0,6}"), 0..40)
        ) {
            let mut t = Transcript::default();
            for (sn, rpl, a, b, w) in steps {
                let result = IatResult {
                    sn,
                    ls: false,
                    pgs: Some(if rpl { "rpl" } else { "apd" }.to_owned()),
                    rg: Some([a, b]),
                    ws: vec![WordSlot { cw: vec![Candidate { w }] }],
                };
                t.apply(&result);
            }
            let _ = t.text();
        }

        #[test]
        fn any_text_is_read_as_a_response_or_an_error(text in ".{0,200}") {
            let _ = serde_json::from_str::<Response>(&text);
        }
    }
}
