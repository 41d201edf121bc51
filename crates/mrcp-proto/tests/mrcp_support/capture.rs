//! Reads `tests/data/unimrcp-wire-captures.txt`: frames with a header line, the exact payload bytes, and an end
//! marker. Shared by the golden tests, the `decode_capture` example and the codec benchmark (`#[path]`).
#![allow(dead_code)]

/// One captured segment or datagram.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Frame number in the capture.
    pub number: u32,
    /// The `# ...` title of the scenario the frame belongs to.
    pub scenario: String,
    /// `TCP` or `UDP`.
    pub transport: String,
    /// Source and destination `ip:port`.
    pub src: String,
    /// Destination `ip:port`.
    pub dst: String,
    /// The payload, byte for byte.
    pub payload: Vec<u8>,
}

impl Frame {
    /// True for MRCPv2 messages (TCP payloads starting with `MRCP/2.0`).
    pub fn is_mrcp(&self) -> bool {
        self.transport == "TCP" && self.payload.starts_with(b"MRCP/2.0 ")
    }
}

const FRAME_MARK: &[u8] = b"----- frame ";
const END_MARK: &[u8] = b"----- end -----";

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Parses every frame; checks each payload against the byte count of its header line.
pub fn parse(text: &[u8]) -> Result<Vec<Frame>, String> {
    let mut frames = Vec::new();
    let mut scenario = String::new();
    let mut pos = 0;
    while let Some(start) = find(text, FRAME_MARK, pos) {
        // The most recent scenario title before this frame.
        if let Some(title) = text[pos..start]
            .split(|&b| b == b'\n')
            .rfind(|l| l.starts_with(b"# "))
        {
            scenario = String::from_utf8_lossy(&title[2..]).trim().to_owned();
        }
        let line_end = find(text, b"\n", start).ok_or("unterminated frame header")?;
        let header =
            String::from_utf8_lossy(&text[start + FRAME_MARK.len()..line_end]).into_owned();
        // "<n> t=<t>s <TCP|UDP> <src> -> <dst> (<len> bytes) -----"
        let words: Vec<&str> = header.split_whitespace().collect();
        let (Some(n), Some(transport), Some(src), Some(dst), Some(len)) = (
            words.first(),
            words.get(2),
            words.get(3),
            words.get(5),
            words.get(6),
        ) else {
            return Err(format!("bad frame header {header:?}"));
        };
        let number: u32 = n
            .parse()
            .map_err(|_| format!("bad frame number in {header:?}"))?;
        let len: usize = len
            .trim_start_matches('(')
            .parse()
            .map_err(|_| format!("bad length in {header:?}"))?;
        let body_start = line_end + 1;
        let end = find(text, END_MARK, body_start).ok_or("missing end marker")?;
        let mut payload = text[body_start..end].to_vec();
        // The file puts the end marker on its own line; that line break is not part of the payload.
        if payload.len() == len + 1 && payload.last() == Some(&b'\n') {
            payload.pop();
        }
        if payload.len() != len {
            return Err(format!(
                "frame {number}: payload {} bytes, header says {len}",
                payload.len()
            ));
        }
        frames.push(Frame {
            number,
            scenario: scenario.clone(),
            transport: transport.to_string(),
            src: src.to_string(),
            dst: dst.to_string(),
            payload,
        });
        pos = end + END_MARK.len();
    }
    Ok(frames)
}
