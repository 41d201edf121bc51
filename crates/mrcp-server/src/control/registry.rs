//! The session registry: which session owns which MRCP session id. It is the one shared map on the request
//! path (`docs/architecture.md`, rule 2), locked only to insert, remove and clone a sender.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc;

use super::ControlEvent;

/// Session ids to the channel into each session's actor.
#[derive(Debug, Default)]
pub struct SessionRegistry {
    sessions: Mutex<HashMap<String, mpsc::Sender<ControlEvent>>>,
}

/// A session id that is already registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MRCP session id {0:?} is already registered")]
pub struct DuplicateSession(pub String);

impl SessionRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, mpsc::Sender<ControlEvent>>> {
        // A panic while holding this lock cannot leave the map half-updated (each operation is one call), so
        // a poisoned lock is still consistent.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a session before its SDP answer is sent, so its first request finds it.
    pub fn insert(
        &self,
        session_id: &str,
        tx: mpsc::Sender<ControlEvent>,
    ) -> Result<(), DuplicateSession> {
        let mut map = self.map();
        if map.contains_key(session_id) {
            return Err(DuplicateSession(session_id.to_owned()));
        }
        map.insert(session_id.to_owned(), tx);
        Ok(())
    }

    /// Removes a session at teardown; later requests for it get 405.
    pub fn remove(&self, session_id: &str) {
        self.map().remove(session_id);
    }

    /// The sender into a session, if it is registered.
    pub fn get(&self, session_id: &str) -> Option<mpsc::Sender<ControlEvent>> {
        self.map().get(session_id).cloned()
    }

    /// How many sessions are registered.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether no session is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
