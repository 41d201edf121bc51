//! RTP port allocation (RFC 3550 §11: RTP on an even port, RTCP on the next odd one).

use std::net::{IpAddr, SocketAddr};

use tokio::net::UdpSocket;

use super::EndpointError;

/// The even/odd port range RTP sessions are bound from (UniMRCP default: 5000–6000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// First port (rounded up to even).
    pub start: u16,
    /// Last port, inclusive.
    pub end: u16,
}

impl PortRange {
    /// A range; `start` is rounded up to even.
    pub fn new(start: u16, end: u16) -> Self {
        Self {
            start: start.saturating_add(start % 2),
            end,
        }
    }

    /// Number of RTP/RTCP pairs.
    pub fn pairs(&self) -> u16 {
        if self.end <= self.start {
            0
        } else {
            (self.end - self.start).div_ceil(2)
        }
    }
}

impl Default for PortRange {
    fn default() -> Self {
        Self::new(5000, 6000)
    }
}

/// Hands out RTP ports round-robin, so a port just released is not reused at once (late packets of
/// the previous call would land in the new one).
#[derive(Debug, Clone)]
pub struct PortAllocator {
    range: PortRange,
    cursor: u16,
}

impl PortAllocator {
    /// An allocator over `range`.
    pub fn new(range: PortRange) -> Self {
        Self { range, cursor: 0 }
    }

    /// The range.
    pub fn range(&self) -> PortRange {
        self.range
    }

    /// Binds an RTP socket on an even port and an RTCP socket on the next port, trying each pair
    /// of the range once from where the last call stopped.
    pub async fn bind_pair(&mut self, ip: IpAddr) -> Result<(UdpSocket, UdpSocket), EndpointError> {
        let pairs = self.range.pairs();
        for _ in 0..pairs {
            let index = self.cursor % pairs;
            self.cursor = self.cursor.wrapping_add(1);
            let Some(rtp_port) = self.range.start.checked_add(index * 2) else {
                continue;
            };
            let Some(rtcp_port) = rtp_port.checked_add(1) else {
                continue;
            };
            if rtcp_port > self.range.end {
                continue;
            }
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(ip, rtp_port)).await else {
                continue;
            };
            let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(ip, rtcp_port)).await else {
                continue;
            };
            return Ok((rtp, rtcp));
        }
        Err(EndpointError::NoFreePort {
            ip,
            start: self.range.start,
            end: self.range.end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_even_odd_pairs_and_rotates() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let mut a = PortAllocator::new(PortRange::new(41001, 41041));
        let (rtp, rtcp) = a.bind_pair(ip).await.unwrap();
        let p = rtp.local_addr().unwrap().port();
        assert_eq!(p % 2, 0);
        assert_eq!(rtcp.local_addr().unwrap().port(), p + 1);
        let (rtp2, _rtcp2) = a.bind_pair(ip).await.unwrap();
        assert_ne!(rtp2.local_addr().unwrap().port(), p);
        // A one-pair range that is taken: a clear error.
        let mut b = PortAllocator::new(PortRange::new(p, p + 1));
        assert!(matches!(
            b.bind_pair(ip).await,
            Err(EndpointError::NoFreePort { .. })
        ));
    }
}
