//! Leak counters: what the process holds right now, exposed on `/metrics` so every fault and soak test can
//! check that a session, a connection or an engine stream gives back everything it took.
//!
//! - live tokio tasks (`tokio::runtime::RuntimeMetrics::num_alive_tasks`, stable, no `tokio_unstable`);
//! - open file descriptors (entries of `/proc/self/fd`);
//! - resident memory (`/proc/self/statm`, second field, in pages of 4 KiB: the page size of x86-64 and
//!   aarch64 Linux; read without `libc` so the crate stays free of `unsafe`);
//! - RTP/RTCP sockets bound in the configured port range (this process's UDP sockets, found by matching the
//!   inodes of `/proc/self/fd` against `/proc/self/net/udp` and `udp6`);
//! - engine streams and MRCP control connections alive, counted by [`Counted`] guards that decrement on drop,
//!   so no code path can forget to.
//!
//! Off Linux the `/proc` figures read as 0 and the rest still work.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicI64, Ordering};

/// Engine streams (recognition and synthesis) alive now.
static ENGINE_STREAMS: AtomicI64 = AtomicI64::new(0);
/// MRCP control connections open now.
static CONTROL_CONNECTIONS: AtomicI64 = AtomicI64::new(0);
/// Session actors running now (from set-up to the end of teardown).
static SESSION_ACTORS: AtomicI64 = AtomicI64::new(0);

/// Which live count a [`Counted`] value holds a unit of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveKind {
    /// An engine recognition or synthesis stream.
    EngineStream,
    /// An MRCP control connection.
    ControlConnection,
    /// A session actor.
    SessionActor,
}

impl LiveKind {
    fn counter(self) -> &'static AtomicI64 {
        match self {
            LiveKind::EngineStream => &ENGINE_STREAMS,
            LiveKind::ControlConnection => &CONTROL_CONNECTIONS,
            LiveKind::SessionActor => &SESSION_ACTORS,
        }
    }

    /// How many are alive now.
    pub fn live(self) -> i64 {
        self.counter().load(Ordering::Relaxed)
    }
}

/// A value counted in a live gauge from construction to drop; derefs to the value.
#[derive(Debug)]
pub struct Counted<T> {
    kind: LiveKind,
    value: T,
}

impl<T> Counted<T> {
    /// Counts `value` under `kind` until it is dropped.
    pub fn new(kind: LiveKind, value: T) -> Counted<T> {
        kind.counter().fetch_add(1, Ordering::Relaxed);
        Counted { kind, value }
    }
}

impl<T> Deref for Counted<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Counted<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T> Drop for Counted<T> {
    fn drop(&mut self) {
        self.kind.counter().fetch_sub(1, Ordering::Relaxed);
    }
}

/// The page size `statm` counts in (x86-64 and aarch64 Linux with 4 KiB pages).
const PAGE_BYTES: u64 = 4096;

/// A snapshot of what the process holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Live tokio tasks of the runtime the snapshot was taken on (0 outside a runtime).
    pub tasks: u64,
    /// Open file descriptors.
    pub fds: u64,
    /// Resident set size in bytes.
    pub rss_bytes: u64,
    /// UDP sockets of this process bound to a port in the RTP range.
    pub rtp_ports: u64,
    /// Engine streams alive.
    pub engine_streams: i64,
    /// MRCP control connections open.
    pub control_connections: i64,
    /// Session actors running.
    pub session_actors: i64,
}

/// Takes a snapshot; `rtp` is the inclusive RTP port range.
pub fn snapshot(rtp: (u16, u16)) -> Snapshot {
    let tasks = tokio::runtime::Handle::try_current()
        .map(|h| h.metrics().num_alive_tasks())
        .unwrap_or(0);
    let socket_inodes = socket_inodes();
    Snapshot {
        tasks: u64::try_from(tasks).unwrap_or(u64::MAX),
        fds: open_fds(),
        rss_bytes: resident_bytes(),
        rtp_ports: udp_ports_in(&socket_inodes, rtp),
        engine_streams: LiveKind::EngineStream.live(),
        control_connections: LiveKind::ControlConnection.live(),
        session_actors: LiveKind::SessionActor.live(),
    }
}

/// Appends the snapshot as Prometheus gauges.
pub fn render(out: &mut String, s: &Snapshot) {
    let gauges: [(&str, &str, i128); 7] = [
        (
            "mrcp_process_tasks",
            "Live tokio tasks of the server.",
            i128::from(s.tasks),
        ),
        (
            "mrcp_process_open_fds",
            "Open file descriptors (/proc/self/fd).",
            i128::from(s.fds),
        ),
        (
            "mrcp_process_resident_memory_bytes",
            "Resident set size (/proc/self/statm).",
            i128::from(s.rss_bytes),
        ),
        (
            "mrcp_rtp_ports_in_use",
            "UDP sockets of the server bound in the RTP port range (RTP and RTCP).",
            i128::from(s.rtp_ports),
        ),
        (
            "mrcp_engine_streams_active",
            "Engine recognition and synthesis streams alive.",
            i128::from(s.engine_streams),
        ),
        (
            "mrcp_control_connections_active",
            "MRCP control connections open.",
            i128::from(s.control_connections),
        ),
        (
            "mrcp_session_tasks_active",
            "Session actors running, from set-up to the end of teardown.",
            i128::from(s.session_actors),
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| {
        // The directory handle itself is one of the entries while it is read.
        u64::try_from(d.count())
            .unwrap_or(u64::MAX)
            .saturating_sub(1)
    })
}

fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| parse_statm_resident(&s))
        .map_or(0, |pages| pages.saturating_mul(PAGE_BYTES))
}

/// The resident pages of a `statm` line (`size resident shared text lib data dt`).
fn parse_statm_resident(statm: &str) -> Option<u64> {
    statm.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// Inodes of this process's sockets (`/proc/self/fd/N -> socket:[INODE]`).
fn socket_inodes() -> HashSet<u64> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return HashSet::new();
    };
    dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

fn udp_ports_in(inodes: &HashSet<u64>, range: (u16, u16)) -> u64 {
    ["/proc/self/net/udp", "/proc/self/net/udp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|table| count_udp_rows(&table, inodes, range))
        .sum()
}

/// Rows of a `/proc/net/udp` table owned by one of `inodes` whose local port is in `range`.
fn count_udp_rows(table: &str, inodes: &HashSet<u64>, (min, max): (u16, u16)) -> u64 {
    let mut n = 0;
    for row in table.lines().skip(1) {
        // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
        let fields: Vec<&str> = row.split_ascii_whitespace().collect();
        let (Some(local), Some(inode)) = (fields.get(1), fields.get(9)) else {
            continue;
        };
        let port = local
            .rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
        let inode = inode.parse::<u64>().ok();
        if let (Some(port), Some(inode)) = (port, inode)
            && (min..=max).contains(&port)
            && inodes.contains(&inode)
        {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn statm_second_field_is_resident_pages() {
        assert_eq!(
            parse_statm_resident("5000 1234 300 10 0 900 0\n"),
            Some(1234)
        );
        assert_eq!(parse_statm_resident("5000"), None);
    }

    #[test]
    fn udp_rows_count_only_our_inodes_in_range() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  1: 0100007F:9C40 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 111 2 0000000000000000 0\n\
  2: 0100007F:9C41 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 112 2 0000000000000000 0\n\
  3: 0100007F:9C42 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 999 2 0000000000000000 0\n\
  4: 0100007F:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 113 2 0000000000000000 0\n";
        let ours: HashSet<u64> = [111, 112, 113].into_iter().collect();
        // 0x9C40 = 40000; 0x1F90 = 8080 is outside the range; inode 999 is another process's.
        assert_eq!(count_udp_rows(table, &ours, (40000, 40100)), 2);
    }

    #[test]
    fn counted_values_leave_the_gauge_when_dropped() {
        // The session-actor gauge is not touched by the other unit tests of this crate.
        let before = LiveKind::SessionActor.live();
        let mut a = Counted::new(LiveKind::SessionActor, 7);
        *a += 1;
        assert_eq!(*a, 8);
        assert_eq!(LiveKind::SessionActor.live(), before + 1);
        drop(a);
        assert_eq!(LiveKind::SessionActor.live(), before);
    }

    #[tokio::test]
    async fn a_snapshot_sees_this_process() {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = socket.local_addr().unwrap().port();
        let s = snapshot((port, port));
        assert!(s.fds > 2, "{s:?}");
        assert!(s.rss_bytes > 0, "{s:?}");
        assert!(s.tasks < 1000, "{s:?}");
        assert_eq!(s.rtp_ports, 1, "{s:?}");
    }
}
