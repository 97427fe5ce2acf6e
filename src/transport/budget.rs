//! The time one exchange with a server has left, shared by the TCP and HTTP senders.

use std::time::{Duration, Instant};

use super::target::Target;
use crate::error::SendError;

/// More than any answer we ask for (a `hostinfo` line); a server that sends more is cut off.
pub(super) const MAX_ANSWER: usize = 1 << 20;

/// The time left for one exchange, and the errors that name its server.
pub(super) struct Budget<'a> {
    pub(super) target: &'a Target,
    pub(super) timeout: Duration,
    pub(super) deadline: Instant,
}

impl Budget<'_> {
    /// Time left for the next step; none left is the timeout. Socket timeouts cannot be
    /// zero, so under a millisecond counts as none.
    pub(super) fn remaining(&self, during: impl FnOnce() -> String) -> Result<Duration, SendError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(1) {
            return Err(self.timed_out(during()));
        }
        Ok(left)
    }

    pub(super) fn is_over(&self) -> bool {
        Instant::now() >= self.deadline
    }

    pub(super) fn timed_out(&self, during: String) -> SendError {
        SendError::TimedOut {
            target: self.target.to_string(),
            after: self.timeout,
            during,
        }
    }

    pub(super) fn failed(&self, reason: String) -> SendError {
        match self.target {
            Target::Tcp { .. } => SendError::Tcp {
                target: self.target.to_string(),
                reason,
            },
            Target::Http { url } => SendError::Http {
                url: url.clone(),
                reason,
            },
        }
    }
}
