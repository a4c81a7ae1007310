//! The run lease's own errors. The lease sits below the orchestrator, which turns them into its
//! ends (`DrError`): a lease that cannot be taken or kept, and a state store that does not
//! answer, which an unplanned failover must tell apart (B still serves without the lease).

/// Why the lease could not be taken or kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    /// Held by another run, lost, or refused by its store: what to do is in the message.
    #[error("{0}")]
    Failed(String),
    /// The state's store (the backend's S3 bucket) does not answer.
    #[error("{0}")]
    Unreachable(String),
}
