//! Asterisk's `SynthAndRecog` (`app_unimrcp`, reference §11.4): two independent sessions on one call, a prompt on
//! the synthesizer and a recognition on the recognizer with `Start-Input-Timers: false`. When the recognizer
//! reports START-OF-INPUT while the prompt plays, the prompt is ended with **STOP** — app_unimrcp's
//! `synth_channel_bargein_occurred` ("Use STOP instead of BARGE-IN-OCCURRED"); when the prompt ends by itself,
//! START-INPUT-TIMERS follows (its `sit` option on auto). The caller's input starts at once, over the prompt.

use mrcp_proto::mrcp::{Message, Method, RequestState, StartLine};

use crate::{ClientError, Session, SpeakRequest};

/// The recognition side of a [`synth_and_recog`].
#[derive(Debug, Clone)]
pub struct RecogInput<'a> {
    /// RECOGNIZE header fields besides Start-Input-Timers and Cancel-If-Queue.
    pub headers: &'a [(&'a str, &'a str)],
    /// `(content type, body)` of the RECOGNIZE: a `text/uri-list` or an inline grammar.
    pub grammar: (&'a str, &'a [u8]),
    /// 8 kHz samples the caller says, sent from the start of the prompt.
    pub audio: Vec<i16>,
    /// Digits the caller keys after the audio.
    pub digits: &'a str,
}

/// How a [`synth_and_recog`] went.
#[derive(Debug, Clone)]
pub struct SynthAndRecogOutcome {
    /// The caller's input barged in and the prompt was stopped.
    pub barged_in: bool,
    /// The STOP response (with Active-Request-Id-List), when the prompt was stopped.
    pub stop_response: Option<Message>,
    /// SPEAK-COMPLETE, when the prompt ended by itself.
    pub speak_complete: Option<Message>,
    /// RECOGNITION-COMPLETE.
    pub recognition: Message,
}

fn is_event(m: &Message, name: &str) -> bool {
    matches!(&m.start, StartLine::Event { event, .. } if event.as_str() == name)
}

fn expect_in_progress(m: &Message, what: &'static str) -> Result<(), ClientError> {
    match &m.start {
        StartLine::Response { status, state, .. }
            if status.is_success() && *state == RequestState::InProgress =>
        {
            Ok(())
        }
        _ => Err(ClientError::Refused {
            what,
            start_line: m.start.to_string(),
        }),
    }
}

/// Plays `prompt` on `synth` while `recog` recognizes `input`, as Asterisk's SynthAndRecog does.
pub async fn synth_and_recog(
    synth: &mut Session,
    recog: &mut Session,
    prompt: &SpeakRequest,
    input: RecogInput<'_>,
) -> Result<SynthAndRecogOutcome, ClientError> {
    let speak_headers: Vec<(&str, &str)> = prompt
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    synth
        .send(
            Method::Speak,
            &speak_headers,
            Some((&prompt.content_type, prompt.body.as_bytes())),
        )
        .await?;
    expect_in_progress(&synth.receive().await?, "SPEAK")?;
    let mut headers = vec![
        ("Cancel-If-Queue", "false"),
        ("Start-Input-Timers", "false"),
    ];
    headers.extend_from_slice(input.headers);
    recog
        .send(Method::Recognize, &headers, Some(input.grammar))
        .await?;
    expect_in_progress(&recog.receive().await?, "RECOGNIZE")?;
    recog.send_input(input.audio, input.digits).await?;

    let (mut barged_in, mut stop_response, mut speak_complete) = (false, None, None);
    let mut prompt_playing = true;
    loop {
        tokio::select! {
            m = recog.receive() => {
                let m = m?;
                if is_event(&m, "START-OF-INPUT") && prompt_playing {
                    synth.send(Method::Stop, &[], None).await?;
                    stop_response = Some(synth.receive().await?);
                    (barged_in, prompt_playing) = (true, false);
                } else if is_event(&m, "RECOGNITION-COMPLETE") {
                    if prompt_playing {
                        synth.send(Method::Stop, &[], None).await?;
                        stop_response = Some(synth.receive().await?);
                    }
                    return Ok(SynthAndRecogOutcome {
                        barged_in,
                        stop_response,
                        speak_complete,
                        recognition: m,
                    });
                }
            }
            m = synth.receive(), if prompt_playing => {
                let m = m?;
                if is_event(&m, "SPEAK-COMPLETE") {
                    speak_complete = Some(m);
                    prompt_playing = false;
                    recog.send(Method::StartInputTimers, &[], None).await?;
                }
            }
        }
    }
}
