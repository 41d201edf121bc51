//! WAV read and write with hound: the client streams WAV files, the server saves waveforms
//! (RFC 6787 §9.4.36 Save-Waveform, §11 recorder).
//!
//! Audio is handed out as mono 16-bit samples at the file's rate: multi-channel files are mixed
//! down, 8/24/32-bit integer and 32-bit float samples are converted.

use std::io::{BufWriter, Read, Seek, Write};
use std::path::Path;

use crate::codec::SampleRate;

/// Why a WAV file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// hound's error (I/O or format).
    #[error("wav {path}: {source}")]
    Hound {
        /// The file, or "<stream>".
        path: String,
        /// The cause.
        source: hound::Error,
    },
    /// A sample format we do not convert.
    #[error("wav {path}: unsupported format ({bits}-bit {format:?})")]
    Unsupported {
        /// The file.
        path: String,
        /// Bits per sample.
        bits: u16,
        /// Integer or float.
        format: hound::SampleFormat,
    },
}

/// Mono 16-bit audio at a rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavAudio {
    /// Sampling rate.
    pub rate: SampleRate,
    /// Samples.
    pub samples: Vec<i16>,
}

impl WavAudio {
    /// Reads a WAV file.
    pub fn read(path: &Path) -> Result<Self, WavError> {
        let name = path.display().to_string();
        let reader = hound::WavReader::open(path).map_err(|source| WavError::Hound {
            path: name.clone(),
            source,
        })?;
        Self::from_reader(reader, &name)
    }

    /// Reads WAV from any reader.
    pub fn read_from<R: Read>(input: R) -> Result<Self, WavError> {
        let reader = hound::WavReader::new(input).map_err(|source| WavError::Hound {
            path: "<stream>".into(),
            source,
        })?;
        Self::from_reader(reader, "<stream>")
    }

    fn from_reader<R: Read>(mut reader: hound::WavReader<R>, name: &str) -> Result<Self, WavError> {
        let spec = reader.spec();
        let channels = usize::from(spec.channels.max(1));
        let err = |source| WavError::Hound {
            path: name.to_string(),
            source,
        };
        let interleaved: Vec<i16> = match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Int, 16) => reader
                .samples::<i16>()
                .collect::<Result<_, _>>()
                .map_err(err)?,
            (hound::SampleFormat::Int, 8) => reader
                .samples::<i8>()
                .map(|s| s.map(|v| i16::from(v) << 8))
                .collect::<Result<_, _>>()
                .map_err(err)?,
            (hound::SampleFormat::Int, bits @ (24 | 32)) => reader
                .samples::<i32>()
                .map(|s| s.map(|v| (v >> (bits - 16)) as i16))
                .collect::<Result<_, _>>()
                .map_err(err)?,
            (hound::SampleFormat::Float, 32) => reader
                .samples::<f32>()
                .map(|s| s.map(|v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16))
                .collect::<Result<_, _>>()
                .map_err(err)?,
            (format, bits) => {
                return Err(WavError::Unsupported {
                    path: name.to_string(),
                    bits,
                    format,
                });
            }
        };
        let samples = if channels == 1 {
            interleaved
        } else {
            interleaved
                .chunks_exact(channels)
                .map(|f| (f.iter().map(|&s| i32::from(s)).sum::<i32>() / channels as i32) as i16)
                .collect()
        };
        Ok(Self {
            rate: SampleRate(spec.sample_rate),
            samples,
        })
    }

    /// Writes a mono 16-bit WAV file.
    pub fn write(&self, path: &Path) -> Result<(), WavError> {
        let name = path.display().to_string();
        let err = |source| WavError::Hound {
            path: name.clone(),
            source,
        };
        let mut w = WavRecorder::create(path, self.rate)?;
        w.push(&self.samples)?;
        w.finish().map_err(|e| match e {
            WavError::Hound { source, .. } => err(source),
            other => other,
        })
    }
}

fn spec(rate: SampleRate) -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: rate.0,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Writes a mono 16-bit WAV incrementally (a recording or a saved waveform).
pub struct WavRecorder<W: Write + Seek> {
    writer: hound::WavWriter<W>,
    name: String,
}

impl<W: Write + Seek> std::fmt::Debug for WavRecorder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavRecorder")
            .field("name", &self.name)
            .finish()
    }
}

impl WavRecorder<BufWriter<std::fs::File>> {
    /// Creates (or truncates) a file.
    pub fn create(path: &Path, rate: SampleRate) -> Result<Self, WavError> {
        let name = path.display().to_string();
        let writer =
            hound::WavWriter::create(path, spec(rate)).map_err(|source| WavError::Hound {
                path: name.clone(),
                source,
            })?;
        Ok(Self { writer, name })
    }
}

impl<W: Write + Seek> WavRecorder<W> {
    /// Writes to any seekable writer.
    pub fn new(output: W, rate: SampleRate) -> Result<Self, WavError> {
        let writer =
            hound::WavWriter::new(output, spec(rate)).map_err(|source| WavError::Hound {
                path: "<stream>".into(),
                source,
            })?;
        Ok(Self {
            writer,
            name: "<stream>".into(),
        })
    }

    /// Appends samples.
    pub fn push(&mut self, samples: &[i16]) -> Result<(), WavError> {
        let mut w = self
            .writer
            .get_i16_writer(u32::try_from(samples.len()).unwrap_or(u32::MAX));
        for &s in samples {
            w.write_sample(s);
        }
        w.flush().map_err(|source| WavError::Hound {
            path: self.name.clone(),
            source,
        })
    }

    /// Finishes the header and closes.
    pub fn finish(self) -> Result<(), WavError> {
        self.writer.finalize().map_err(|source| WavError::Hound {
            path: self.name,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn round_trip_file_and_stream() {
        let dir = crate::test_audio::temp_dir("wav");
        let path = dir.join("a.wav");
        let audio = WavAudio {
            rate: SampleRate::HZ_16000,
            samples: (0..16000).map(|i| (i % 700) as i16 - 350).collect(),
        };
        audio.write(&path).unwrap();
        assert_eq!(WavAudio::read(&path).unwrap(), audio);
        let mut buf = Cursor::new(Vec::new());
        let mut rec = WavRecorder::new(&mut buf, SampleRate::HZ_8000).unwrap();
        rec.push(&[1, 2, 3]).unwrap();
        rec.push(&[4]).unwrap();
        rec.finish().unwrap();
        let back = WavAudio::read_from(Cursor::new(buf.into_inner())).unwrap();
        assert_eq!(
            back,
            WavAudio {
                rate: SampleRate::HZ_8000,
                samples: vec![1, 2, 3, 4]
            }
        );
        assert!(WavAudio::read(&dir.join("missing.wav")).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn stereo_float_is_mixed_down() {
        let mut buf = Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 24000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
        for _ in 0..10 {
            w.write_sample(0.5f32).unwrap();
            w.write_sample(0.0f32).unwrap();
        }
        w.finalize().unwrap();
        let a = WavAudio::read_from(Cursor::new(buf.into_inner())).unwrap();
        assert_eq!(a.rate, SampleRate::HZ_24000);
        assert_eq!(a.samples, vec![8192; 10]);
    }
}
