//! The recognizer's timers (RFC 6787 §9.4), as a fixed table with the earliest deadline first.

use std::time::Instant;

/// One timer of a running recognition, named after the header that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecognizerTimer {
    /// No-Input-Timeout (§9.4.6): no speech or DTMF since the input timers started.
    NoInput,
    /// Recognition-Timeout (§9.4.7): the longest speech may last, from START-OF-INPUT.
    Recognition,
    /// Speech-Complete-Timeout / Speech-Incomplete-Timeout (§9.4.15, §9.4.16): silence after speech.
    EndOfSpeech,
    /// DTMF-Interdigit-Timeout (§9.4.17): the digits so far cannot be a match yet.
    DtmfInterdigit,
    /// DTMF-Term-Timeout (§9.4.18): the digits match but more could follow.
    DtmfTerm,
    /// Hotword-Max-Duration (§9.4): the longest a hotword recognition listens.
    HotwordMax,
    /// The server's own bound on a RECOGNIZE, so that one always completes even when the client never starts
    /// the input timers (FreeSWITCH has no timeout of its own).
    MaxDuration,
    /// How long the engine may take to answer once the input is complete.
    EngineDeadline,
}

impl RecognizerTimer {
    /// Every timer, in the order they fire when due at the same instant: input first, then the engine.
    pub const ALL: [RecognizerTimer; 8] = [
        RecognizerTimer::DtmfTerm,
        RecognizerTimer::DtmfInterdigit,
        RecognizerTimer::EndOfSpeech,
        RecognizerTimer::Recognition,
        RecognizerTimer::NoInput,
        RecognizerTimer::HotwordMax,
        RecognizerTimer::MaxDuration,
        RecognizerTimer::EngineDeadline,
    ];

    const fn slot(self) -> usize {
        self as usize
    }
}

/// The armed deadlines.
#[derive(Debug, Clone, Default)]
pub(super) struct Timers {
    deadlines: [Option<Instant>; 8],
}

impl Timers {
    pub(super) fn arm(&mut self, timer: RecognizerTimer, at: Instant) {
        self.deadlines[timer.slot()] = Some(at);
    }

    pub(super) fn disarm(&mut self, timer: RecognizerTimer) {
        self.deadlines[timer.slot()] = None;
    }

    pub(super) fn clear(&mut self) {
        self.deadlines = [None; 8];
    }

    /// The earliest armed deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarms and returns the first timer due at `now`, in [`RecognizerTimer::ALL`] order.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<RecognizerTimer> {
        let due = RecognizerTimer::ALL
            .into_iter()
            .find(|t| self.deadlines[t.slot()].is_some_and(|at| at <= now))?;
        self.disarm(due);
        Some(due)
    }
}
