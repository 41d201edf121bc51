//! A channel's request waiting on fetched documents (grammars by URI, prompts by URI).
//!
//! The request that needs documents is parked while its fetches run as tasks of their own (the session actor
//! never waits on the network); requests that arrive meanwhile for the same channel are deferred and handled
//! afterwards in their order, so the client sees responses in the order it sent the requests (RFC 6787 §6.1).
//! A fetch lasts at most `fetch.timeout_ms`, which bounds the wait. Dropping the channel aborts the fetches.

use std::collections::VecDeque;

use mrcp_proto::mrcp::{Message, RequestId};
use tokio::task::JoinSet;

use crate::control::ConnectionHandle;
use crate::fetch::{FetchError, Fetched, Fetcher};

/// A fetched document may name further documents (an SRGS grammar's external rule references); this many
/// rounds of fetching are followed for one request.
pub(crate) const MAX_FETCH_ROUNDS: u32 = 4;

/// One fetch's outcome, with the URI it was for.
pub(crate) type FetchOutcome = (String, Result<Fetched, FetchError>);

/// A request taken up again, with the connection it came on.
pub(crate) type Request = (Message, ConnectionHandle);

/// The fetch state of one channel.
#[derive(Default)]
pub(crate) struct Fetching {
    jobs: JoinSet<FetchOutcome>,
    outstanding: Vec<String>,
    parked: Option<Request>,
    deferred: VecDeque<Request>,
    /// The request the last rounds were for, and how many there were.
    rounds: Option<(RequestId, u32)>,
}

/// The request needs more rounds of fetching than [`MAX_FETCH_ROUNDS`].
#[derive(Debug)]
pub(crate) struct TooDeep;

impl Fetching {
    /// Whether a request is parked: new requests must be deferred.
    pub(crate) fn is_busy(&self) -> bool {
        self.parked.is_some()
    }

    /// Keeps a request until the parked one is done.
    pub(crate) fn defer(&mut self, request: Message, connection: ConnectionHandle) {
        self.deferred.push_back((request, connection));
    }

    /// Parks `request` and fetches `uris` for it.
    pub(crate) fn start(
        &mut self,
        fetcher: &Fetcher,
        uris: Vec<String>,
        request: Message,
        connection: ConnectionHandle,
    ) -> Result<(), TooDeep> {
        let id = request.request_id();
        let round = match self.rounds {
            Some((last, n)) if last == id => n + 1,
            _ => 1,
        };
        if round > MAX_FETCH_ROUNDS {
            self.rounds = None;
            return Err(TooDeep);
        }
        self.rounds = Some((id, round));
        for uri in uris {
            let fetcher = fetcher.clone();
            self.outstanding.push(uri.clone());
            self.jobs.spawn(async move {
                let result = fetcher.fetch(&uri).await;
                (uri, result)
            });
        }
        self.parked = Some((request, connection));
        Ok(())
    }

    /// The next finished fetch; never resolves while nothing is being fetched (for `select!`).
    pub(crate) async fn next(&mut self) -> Vec<FetchOutcome> {
        match self.jobs.join_next().await {
            Some(Ok(outcome)) => {
                self.outstanding.retain(|u| u != &outcome.0);
                vec![outcome]
            }
            // A fetch task cannot panic on its own; if it was aborted or did, every outstanding URI fails.
            Some(Err(error)) => {
                self.jobs.abort_all();
                std::mem::take(&mut self.outstanding)
                    .into_iter()
                    .map(|uri| {
                        let reason = error.to_string();
                        let failed = FetchError::Unreachable {
                            uri: uri.clone(),
                            reason,
                        };
                        (uri, Err(failed))
                    })
                    .collect()
            }
            None => std::future::pending().await,
        }
    }

    /// The next request to take up: the parked one once every fetch has finished, then the deferred ones in
    /// order while none is parked again.
    pub(crate) fn next_request(&mut self) -> Option<Request> {
        self.take_ready().or_else(|| self.take_deferred())
    }

    /// The parked request, once every fetch has finished.
    fn take_ready(&mut self) -> Option<Request> {
        if self.outstanding.is_empty() && self.jobs.is_empty() {
            self.parked.take()
        } else {
            None
        }
    }

    /// The next deferred request, while none is parked.
    fn take_deferred(&mut self) -> Option<Request> {
        if self.is_busy() {
            None
        } else {
            self.deferred.pop_front()
        }
    }
}
