//! The effective parameters of a RECORD (RFC 6787 §10.4): its own header fields, else the channel's
//! SET-PARAMS values, else the server's defaults, and where its recording goes.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use mrcp_proto::mrcp::header::{
    CaptureOnSpeech, FinalSilence, Header, MaxTime, MediaType, NoInputTimeout, RecordUri,
    StartInputTimers, TrimLength, ValueError,
};
use mrcp_proto::mrcp::{Headers, InvalidHeader};

use crate::params::ChannelParams;

/// No-Input-Timeout when nobody set one.
pub const DEFAULT_NO_INPUT_TIMEOUT: Duration = Duration::from_secs(5);

/// The media types the recorder writes: WAV, 16-bit linear PCM at the call's rate.
const WAV_TYPES: [&str; 3] = ["audio/wav", "audio/x-wav", "audio/wave"];

/// Recordings returned in a message body stop at this size, so the message stays under the 4 MiB body
/// limit of UniMRCP-style decoders (ours included).
pub const INLINE_MAX_BYTES: u64 = 3 * 1024 * 1024;

/// The effective parameters of one RECORD.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordParams {
    /// Start-Input-Timers (§10.4.14).
    pub start_input_timers: bool,
    /// No-Input-Timeout (§10.4.2); zero disables it.
    pub no_input_timeout: Duration,
    /// Max-Time (§10.4.9), capped by the server's maximum; never zero.
    pub max_time: Duration,
    /// Final-Silence (§10.4.11); zero: silence does not end the recording.
    pub final_silence: Duration,
    /// Trim-Length (§10.4.10).
    pub trim_length: Duration,
    /// Capture-On-Speech (§10.4.12).
    pub capture_on_speech: bool,
    /// The call's audio rate, in samples per second.
    pub rate: u32,
}

/// Where a recording goes (Record-URI, §10.4.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordTarget {
    /// No Record-URI in the RECORD: the audio goes in the body of RECORD-COMPLETE or of the STOP response,
    /// with a `cid:` Record-URI naming its Content-ID.
    Inline,
    /// A file (an empty Record-URI: the server's own name in its directory; or a `file:` URI inside it).
    File(PathBuf),
}

/// Why a RECORD cannot run.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// A header value is malformed or unsupported (404 or 409).
    Invalid(InvalidHeader),
    /// The Record-URI is not a place this server can store to (407, Completion-Cause 003).
    Uri {
        /// The URI.
        uri: String,
        /// Why.
        reason: &'static str,
    },
}

impl From<InvalidHeader> for Refusal {
    fn from(e: InvalidHeader) -> Self {
        Refusal::Invalid(e)
    }
}

/// Resolves a RECORD's parameters. `max_time` is the server's cap; `directory` is where recordings go and
/// `file_name` the name of this one when the client gives none.
pub fn resolve(
    channel: &ChannelParams,
    request: &Headers,
    max_time: Duration,
    rate: u32,
    directory: &Path,
    file_name: &str,
) -> Result<(RecordParams, RecordTarget), Refusal> {
    if let Some(media_type) = channel.effective::<MediaType>(request)? {
        let value = media_type.0.trim();
        let base = value.split(';').next().unwrap_or("").trim();
        if !WAV_TYPES.iter().any(|t| t.eq_ignore_ascii_case(base)) {
            return Err(Refusal::Invalid(InvalidHeader {
                name: MediaType::NAME.into(),
                value: value.to_owned(),
                reason: ValueError::OutOfRange {
                    allowed: "audio/wav (16-bit linear PCM)",
                },
            }));
        }
    }
    let target = match request.get::<RecordUri>()? {
        None => RecordTarget::Inline,
        Some(RecordUri(uri)) if uri.uri.is_empty() => RecordTarget::File(directory.join(file_name)),
        Some(RecordUri(uri)) => RecordTarget::File(file_in(&uri.uri, directory)?),
    };
    // Max-Time 0 means no limit (§10.4.9): the server's cap then applies, as it does to a longer value.
    let mut max_time = match channel.effective::<MaxTime>(request)?.map(|h| h.0) {
        Some(t) if !t.is_zero() => t.min(max_time),
        _ => max_time,
    };
    if target == RecordTarget::Inline {
        let bytes_per_ms = u64::from(rate.max(1000)) * 2 / 1000;
        max_time = max_time.min(Duration::from_millis(INLINE_MAX_BYTES / bytes_per_ms));
    }
    let ms = |d: Option<Duration>| d.unwrap_or(Duration::ZERO);
    let params = RecordParams {
        start_input_timers: channel
            .effective::<StartInputTimers>(request)?
            .is_none_or(|h| h.0),
        no_input_timeout: channel
            .effective::<NoInputTimeout>(request)?
            .map_or(DEFAULT_NO_INPUT_TIMEOUT, |h| h.0),
        max_time,
        final_silence: ms(channel.effective::<FinalSilence>(request)?.map(|h| h.0)),
        trim_length: ms(channel.effective::<TrimLength>(request)?.map(|h| h.0)),
        capture_on_speech: channel
            .effective::<CaptureOnSpeech>(request)?
            .is_some_and(|h| h.0),
        rate,
    };
    Ok((params, target))
}

/// The path of a `file:` URI, accepted only inside the recordings directory (a client must not make the
/// server write anywhere else); other schemes would need an upload, which this server does not do.
fn file_in(uri: &str, directory: &Path) -> Result<PathBuf, Refusal> {
    let refuse = |reason| Refusal::Uri {
        uri: uri.to_owned(),
        reason,
    };
    let Some(rest) = uri
        .get(..5)
        .filter(|s| s.eq_ignore_ascii_case("file:"))
        .and_then(|_| uri.get(5..))
    else {
        return Err(refuse(
            "only file: URIs inside the recordings directory are written",
        ));
    };
    // `file:///path` or `file://localhost/path` (RFC 8089).
    let path = rest
        .strip_prefix("//localhost")
        .or_else(|| rest.strip_prefix("//"))
        .unwrap_or(rest);
    let path = Path::new(path);
    let plain = path
        .components()
        .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !path.is_absolute() || !plain || !path.starts_with(directory) || path == directory {
        return Err(refuse(
            "the path is not a file inside the recordings directory",
        ));
    }
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in fields {
            h.append_raw(n, v).unwrap();
        }
        h
    }

    fn resolve_with(fields: &[(&str, &str)]) -> Result<(RecordParams, RecordTarget), Refusal> {
        resolve(
            &ChannelParams::new(Headers::new()),
            &headers(fields),
            Duration::from_secs(60),
            8000,
            Path::new("/var/rec"),
            "s-1.wav",
        )
    }

    #[test]
    fn unimrcp_record_resolves_with_the_audio_inline() {
        // The RECORD of the UniMRCP capture: no Record-URI, so the audio goes in the body (§10.4.7).
        let (p, target) = resolve_with(&[
            ("No-Input-Timeout", "5000"),
            ("Final-Silence", "300"),
            ("Max-Time", "10000"),
        ])
        .unwrap();
        assert_eq!(target, RecordTarget::Inline);
        assert_eq!(p.final_silence, Duration::from_millis(300));
        assert_eq!(p.max_time, Duration::from_secs(10));
        assert!(p.start_input_timers && !p.capture_on_speech);
    }

    #[test]
    fn max_time_is_capped_and_zero_means_the_cap() {
        let (p, t) = resolve_with(&[("Record-URI", ""), ("Max-Time", "0")]).unwrap();
        assert_eq!(p.max_time, Duration::from_secs(60));
        assert_eq!(t, RecordTarget::File(PathBuf::from("/var/rec/s-1.wav")));
        let (p, _) = resolve_with(&[("Record-URI", ""), ("Max-Time", "900000")]).unwrap();
        assert_eq!(p.max_time, Duration::from_secs(60));
        assert_eq!(p.no_input_timeout, DEFAULT_NO_INPUT_TIMEOUT);
        assert_eq!(p.final_silence, Duration::ZERO);
    }

    #[test]
    fn record_uri_must_be_a_file_in_the_directory() {
        let (_, t) = resolve_with(&[("Record-URI", "<file:///var/rec/msg.wav>")]).unwrap();
        assert_eq!(t, RecordTarget::File(PathBuf::from("/var/rec/msg.wav")));
        for bad in [
            "<file:///etc/passwd>",
            "<file:///var/rec/../x.wav>",
            "<http://example.com/upload>",
            "<file:///var/rec>",
        ] {
            assert!(
                matches!(
                    resolve_with(&[("Record-URI", bad)]),
                    Err(Refusal::Uri { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn media_type_other_than_wav_is_refused_by_name() {
        assert!(resolve_with(&[("Media-Type", "audio/x-wav")]).is_ok());
        match resolve_with(&[("Media-Type", "audio/basic")]) {
            Err(Refusal::Invalid(e)) => assert_eq!(e.name, "Media-Type"),
            other => panic!("{other:?}"),
        }
    }
}
