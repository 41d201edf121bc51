//! SIP endpoint (placeholder, filled by its issue).
