//! The DTMF type-ahead buffer (RFC 6787 §9.4.24 DTMF-Buffer-Time, §9.4.25 Clear-DTMF-Buffer): digits the
//! caller keys while no RECOGNIZE is running are kept, and the next RECOGNIZE with a DTMF grammar looks at
//! them first, so a caller who knows the menu can key ahead of the prompt.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The most digits kept; older ones are dropped first.
const CAPACITY: usize = 64;

/// Digits keyed while no recognition was running, with when they came.
#[derive(Debug, Default)]
pub struct TypeAhead {
    digits: VecDeque<(Instant, char)>,
}

impl TypeAhead {
    /// Keeps a digit.
    pub fn push(&mut self, now: Instant, digit: char) {
        if self.digits.len() == CAPACITY {
            self.digits.pop_front();
        }
        self.digits.push_back((now, digit));
    }

    /// Forgets every digit (Clear-DTMF-Buffer: true).
    pub fn clear(&mut self) {
        self.digits.clear();
    }

    /// Takes the digits keyed within `buffer_time` before `now`, oldest first; older ones are dropped.
    pub fn take(&mut self, now: Instant, buffer_time: Duration) -> Vec<char> {
        self.digits
            .drain(..)
            .filter(|(at, _)| now.saturating_duration_since(*at) <= buffer_time)
            .map(|(_, d)| d)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_recent_digits_are_taken_once() {
        let start = Instant::now();
        let mut buffer = TypeAhead::default();
        buffer.push(start, '1');
        buffer.push(start + Duration::from_secs(4), '2');
        buffer.push(start + Duration::from_secs(5), '#');
        let now = start + Duration::from_secs(6);
        assert_eq!(buffer.take(now, Duration::from_secs(3)), vec!['2', '#']);
        assert!(buffer.take(now, Duration::from_secs(3)).is_empty());
    }

    #[test]
    fn the_buffer_is_bounded_and_can_be_cleared() {
        let now = Instant::now();
        let mut buffer = TypeAhead::default();
        for _ in 0..CAPACITY + 10 {
            buffer.push(now, '5');
        }
        assert_eq!(buffer.take(now, Duration::from_secs(1)).len(), CAPACITY);
        buffer.push(now, '7');
        buffer.clear();
        assert!(buffer.take(now, Duration::from_secs(1)).is_empty());
    }
}
