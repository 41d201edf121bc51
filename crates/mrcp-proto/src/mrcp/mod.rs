//! MRCPv2 messages (RFC 6787 §5), typed headers (§6, §8–§10) and the streaming codec.

mod channel;
mod resource;

pub use channel::{ChannelId, ChannelIdError};
pub use resource::{ResourceType, UnknownResource};
