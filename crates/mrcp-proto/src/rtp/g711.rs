//! G.711 companding (ITU-T G.711, RFC 3551 §4.5.14): μ-law (PCMU, payload type 0) and A-law
//! (PCMA, payload type 8), one byte per sample at 8 kHz.
//!
//! Decoding uses the 256-entry expansion tables of G.711 Tables 1a/2a; encoding uses tables built at
//! compile time from the segment rules (μ-law on 14 bits with bias 33, A-law on 13 bits), so a
//! sample costs one table read either way. Written here because the tables are tiny and fixed;
//! a crate would add a dependency for 60 lines.

/// μ-law code of a zero sample.
pub const ULAW_SILENCE: u8 = 0xff;
/// A-law code of a zero-level sample (decodes to +8).
pub const ALAW_SILENCE: u8 = 0xd5;

const fn ulaw_decode_one(code: u8) -> i16 {
    let u = !code;
    let mut t = (((u & 0x0f) as i32) << 3) + 0x84;
    t <<= ((u & 0x70) >> 4) as i32;
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

const fn alaw_decode_one(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0f) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// μ-law encoding of a 14-bit magnitude-and-sign sample (`sample >> 2`).
const fn ulaw_encode14(pcm14: i32) -> u8 {
    let (mut v, mask) = if pcm14 < 0 {
        (-pcm14, 0x7f)
    } else {
        (pcm14, 0xff)
    };
    if v > 8159 {
        v = 8159;
    }
    v += 0x21;
    let mut seg = 0;
    while seg < 8 && v > (0x40 << seg) - 1 {
        seg += 1;
    }
    if seg >= 8 {
        return 0x7f ^ mask;
    }
    let u = ((seg << 4) | ((v >> (seg + 1)) & 0x0f)) as u8;
    u ^ mask
}

/// A-law encoding of a 13-bit sample (`sample >> 3`).
const fn alaw_encode13(pcm13: i32) -> u8 {
    let (v, mask) = if pcm13 >= 0 {
        (pcm13, 0xd5)
    } else {
        (-pcm13 - 1, 0x55)
    };
    let mut seg = 0;
    while seg < 8 && v > (0x20 << seg) - 1 {
        seg += 1;
    }
    if seg >= 8 {
        return 0x7f ^ mask;
    }
    let mut a = (seg << 4) as u8;
    if seg < 2 {
        a |= ((v >> 1) & 0x0f) as u8;
    } else {
        a |= ((v >> seg) & 0x0f) as u8;
    }
    a ^ mask
}

static ULAW_DECODE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_decode_one(i as u8);
        i += 1;
    }
    t
};

static ALAW_DECODE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_decode_one(i as u8);
        i += 1;
    }
    t
};

static ULAW_ENCODE: [u8; 16384] = {
    let mut t = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        t[i] = ulaw_encode14(i as i32 - 8192);
        i += 1;
    }
    t
};

static ALAW_ENCODE: [u8; 8192] = {
    let mut t = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        t[i] = alaw_encode13(i as i32 - 4096);
        i += 1;
    }
    t
};

/// Expands one μ-law code to a 16-bit linear sample (G.711 Table 2a).
#[inline]
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_DECODE[usize::from(code)]
}

/// Expands one A-law code to a 16-bit linear sample (G.711 Table 1a).
#[inline]
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_DECODE[usize::from(code)]
}

/// Compresses a 16-bit linear sample to μ-law (the two low bits are below μ-law resolution).
#[inline]
pub fn linear_to_ulaw(sample: i16) -> u8 {
    // (sample >> 2) + 8192 is in 0..16384 for every i16.
    ULAW_ENCODE[((i32::from(sample) >> 2) + 8192) as usize]
}

/// Compresses a 16-bit linear sample to A-law (the three low bits are below A-law resolution).
#[inline]
pub fn linear_to_alaw(sample: i16) -> u8 {
    // (sample >> 3) + 4096 is in 0..8192 for every i16.
    ALAW_ENCODE[((i32::from(sample) >> 3) + 4096) as usize]
}

/// Appends the linear samples of a PCMU payload to `out`.
pub fn decode_ulaw(payload: &[u8], out: &mut Vec<i16>) {
    out.extend(payload.iter().map(|&c| ulaw_to_linear(c)));
}

/// Appends the linear samples of a PCMA payload to `out`.
pub fn decode_alaw(payload: &[u8], out: &mut Vec<i16>) {
    out.extend(payload.iter().map(|&c| alaw_to_linear(c)));
}

/// Appends the PCMU encoding of `samples` to `out`.
pub fn encode_ulaw(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&s| linear_to_ulaw(s)));
}

/// Appends the PCMA encoding of `samples` to `out`.
pub fn encode_alaw(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&s| linear_to_alaw(s)));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference points of ITU-T G.711 Tables 1a and 2a (decoder output, 16-bit scale).
    #[test]
    fn matches_g711_reference_values() {
        // μ-law: code (after inversion on the line) -> value.
        for (code, value) in [
            (0xffu8, 0i16),
            (0x7f, 0),
            (0x80, 32124),
            (0x00, -32124),
            (0xfe, 8),
            (0x7e, -8),
            (0xf0, 120),
            (0xef, 132),
            (0x8f, 16764),
            (0x90, 15996),
        ] {
            assert_eq!(ulaw_to_linear(code), value, "ulaw {code:#04x}");
        }
        // A-law: even bits inverted on the line.
        for (code, value) in [
            (0xd5u8, 8i16),
            (0x55, -8),
            (0xaa, 32256),
            (0x2a, -32256),
            (0xd4, 24),
            (0xc5, 264),
            (0xf5, 528),
            (0xe5, 1056),
            (0xa5, 16896),
        ] {
            assert_eq!(alaw_to_linear(code), value, "alaw {code:#04x}");
        }
        assert_eq!(linear_to_ulaw(0), ULAW_SILENCE);
        assert_eq!(linear_to_alaw(0), ALAW_SILENCE);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(linear_to_alaw(i16::MAX), 0xaa);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2a);
    }

    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            let back = linear_to_ulaw(ulaw_to_linear(code));
            // 0x7f is μ-law's negative zero; it decodes to 0 which encodes as 0xff.
            if code == 0x7f {
                assert_eq!(back, 0xff);
            } else {
                assert_eq!(back, code, "ulaw {code:#04x}");
            }
            assert_eq!(
                linear_to_alaw(alaw_to_linear(code)),
                code,
                "alaw {code:#04x}"
            );
        }
    }

    #[test]
    fn quantisation_error_is_bounded() {
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let u = ulaw_to_linear(linear_to_ulaw(s));
            let a = alaw_to_linear(linear_to_alaw(s));
            let mag = i32::from(s).abs();
            // Half a step of the segment the sample falls in, with slack for the clip region.
            let bound = (mag / 16).max(16) + 8;
            assert!(
                (i32::from(u) - i32::from(s)).abs() <= bound.max(300),
                "ulaw {s} -> {u}"
            );
            assert!(
                (i32::from(a) - i32::from(s)).abs() <= bound.max(300),
                "alaw {s} -> {a}"
            );
        }
    }
}
