//! AWS-shaped errors: an error code, an HTTP status and a message, plus the extra members some
//! error shapes carry (`FileSystemId` on `FileSystemAlreadyExists`).

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub extra: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: Vec::new(),
        }
    }

    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((key, value.into()));
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        ApiError::new(400, "ValidationException", message)
    }

    pub fn file_system_not_found(id: &str) -> Self {
        ApiError::new(
            404,
            "FileSystemNotFound",
            format!("File system '{id}' does not exist."),
        )
    }

    pub fn replication_not_found(id: &str) -> Self {
        ApiError::new(
            404,
            "ReplicationNotFound",
            format!("No replication configuration found for file system '{id}'."),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::new(409, "ConflictException", message)
    }

    pub fn wrong_lifecycle(id: &str, state: &str) -> Self {
        ApiError::new(
            409,
            "IncorrectFileSystemLifeCycleState",
            format!("File system '{id}' is in life cycle state '{state}'."),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(500, "InternalServerError", message)
    }

    pub fn throttling() -> Self {
        ApiError::new(400, "ThrottlingException", "Rate exceeded")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}
