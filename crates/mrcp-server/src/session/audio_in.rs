//! The listening half of a session's audio path (`docs/architecture.md`, rule 4): decoded frames from the RTP
//! endpoint go through the in-band DTMF detector and the endpointer, and, resampled to the engine's rate, to
//! the recognizer engine.

use mrcp_media::codec::SampleRate;
use mrcp_media::dtmf::{InbandConfig, InbandDetector};
use mrcp_media::resample::{ResampleError, StreamResampler};
use mrcp_media::vad::{
    EarshotDetector, Endpointer, EndpointerConfig, EnergyDetector, VadEvent, VoiceDetector,
};

/// What the listener heard in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Heard {
    /// The endpointer heard speech start.
    SpeechStarted,
    /// The endpointer heard speech end.
    SpeechEnded,
    /// An in-band DTMF tone.
    Digit(char),
}

/// In-band DTMF, endpointing and resampling for one audio stream.
pub(crate) struct AudioIn {
    rate: SampleRate,
    inband: InbandDetector,
    endpointer: Endpointer,
    /// To the engine's rate; `None` when the rates already agree, or until an engine starts: a resampler
    /// weighs 25–40 kB, and most sessions are idle or recognize DTMF only, which needs none
    /// (`docs/performance.md`, memory per session).
    resampler: Option<StreamResampler>,
    engine_rate: SampleRate,
}

impl AudioIn {
    /// A listener for audio at `rate` feeding an engine that wants `engine_rate`; the resampler is built by
    /// [`AudioIn::set_engine_rate`] when an engine starts.
    pub(crate) fn new(rate: SampleRate, engine_rate: SampleRate) -> Result<Self, ResampleError> {
        Ok(Self {
            rate,
            inband: InbandDetector::new(InbandConfig::new(rate.0)),
            endpointer: endpointer(rate, EndpointerConfig::default()),
            resampler: None,
            engine_rate,
        })
    }

    fn resampler(
        rate: SampleRate,
        engine_rate: SampleRate,
    ) -> Result<Option<StreamResampler>, ResampleError> {
        if rate == engine_rate {
            return Ok(None);
        }
        StreamResampler::new(rate, engine_rate, std::time::Duration::from_millis(20)).map(Some)
    }

    /// Whether the caller is speaking now, by the endpointer.
    pub(crate) fn in_speech(&self) -> bool {
        self.endpointer.in_speech()
    }

    /// Sensitivity-Level (RFC 6787 §9.4), 0.0–1.0: higher hears quieter speech; `None` for the endpointer's
    /// default. Takes effect for the next utterance.
    pub(crate) fn set_sensitivity(&mut self, sensitivity: Option<f32>) {
        let default = EndpointerConfig::default();
        let config = EndpointerConfig {
            sensitivity: sensitivity.unwrap_or(default.sensitivity),
            ..default
        };
        self.endpointer = endpointer(self.rate, config);
    }

    /// The rate of the call's audio.
    pub(crate) fn rate(&self) -> SampleRate {
        self.rate
    }

    /// Sets the engine rate before an engine starts (each RECOGNIZE with one), building the resampler if the
    /// rates differ and it is not built for this rate yet.
    pub(crate) fn set_engine_rate(&mut self, engine_rate: SampleRate) -> Result<(), ResampleError> {
        if engine_rate != self.engine_rate || (self.resampler.is_none() && engine_rate != self.rate)
        {
            self.resampler = Self::resampler(self.rate, engine_rate)?;
            self.engine_rate = engine_rate;
        }
        Ok(())
    }

    /// Forgets speech and tone state between recognitions.
    pub(crate) fn reset(&mut self) {
        self.endpointer.reset();
        self.inband.reset();
        if let Some(r) = &mut self.resampler {
            r.reset();
        }
    }

    /// Runs only the endpointer on one frame (the recorder, which has no engine): speech start or end, with
    /// its audio offset since the last [`Self::reset`].
    pub(crate) fn endpoint(&mut self, samples: &[i16]) -> Option<VadEvent> {
        self.endpointer.process(samples)
    }

    /// Listens to one frame: what was heard goes to `heard`, the audio for the engine to `engine_audio`.
    pub(crate) fn process(
        &mut self,
        samples: &[i16],
        heard: &mut Vec<Heard>,
        engine_audio: &mut Vec<i16>,
    ) {
        self.inband
            .process(samples, |d| heard.push(Heard::Digit(d.digit.as_char())));
        match self.endpointer.process(samples) {
            Some(VadEvent::SpeechStart { .. }) => heard.push(Heard::SpeechStarted),
            Some(VadEvent::SpeechEnd { .. }) => heard.push(Heard::SpeechEnded),
            None => {}
        }
        match &mut self.resampler {
            Some(r) => {
                // The resampler takes frames of any length at its own rate, so it cannot fail here; if it
                // did, the frame is lost to the engine only.
                let _ = r.process(samples, engine_audio);
            }
            None if self.rate == self.engine_rate => engine_audio.extend_from_slice(samples),
            // No engine has started at another rate: nobody takes this audio.
            None => {}
        }
    }
}

/// An endpointer over the neural detector when the rate suits it, else the energy detector, which takes any
/// rate.
fn endpointer(rate: SampleRate, config: EndpointerConfig) -> Endpointer {
    let detector: Box<dyn VoiceDetector> = match EarshotDetector::new(rate) {
        Ok(d) => Box::new(d),
        Err(_) => Box::new(EnergyDetector::new(rate)),
    };
    Endpointer::new(config, detector)
}
