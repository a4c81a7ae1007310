//! AWS call failures, classified for the operator: unreachable, throttled, or the service said no.

use std::fmt;

use aws_sdk_efs::error::{ProvideErrorMetadata, SdkError};

/// What kind of failure an AWS call met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// No answer from the endpoint (connection refused or dropped, timeout).
    Unreachable(String),
    /// The service answered with an error code.
    Service { code: String, message: String },
    /// Anything else (credentials, a response that could not be read).
    Other(String),
}

/// A failed call: which region, which operation, what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub region: String,
    pub operation: &'static str,
    pub kind: AwsErrorKind,
}

impl AwsError {
    pub fn from_sdk<E, R>(region: &str, operation: &'static str, err: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let kind = match &err {
            // The request never got an answer (refused, dropped, timed out): unreachable; unless
            // it was never sent because no credentials could be loaded.
            SdkError::DispatchFailure(_) if !chain(&err).contains("credentials") => {
                AwsErrorKind::Unreachable(chain(&err))
            }
            SdkError::TimeoutError(_) => AwsErrorKind::Unreachable("the request timed out".into()),
            SdkError::ServiceError(s) => AwsErrorKind::Service {
                code: s.err().code().unwrap_or("Unknown").to_string(),
                message: s.err().message().unwrap_or_default().to_string(),
            },
            other => AwsErrorKind::Other(chain(other)),
        };
        AwsError {
            region: region.to_string(),
            operation,
            kind,
        }
    }

    pub fn is_unreachable(&self) -> bool {
        matches!(self.kind, AwsErrorKind::Unreachable(_))
    }

    pub fn code(&self) -> Option<&str> {
        match &self.kind {
            AwsErrorKind::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Why the answer is missing, in the operator's words: "unreachable", "no valid
    /// credentials", "access denied", or "error".
    pub fn category(&self) -> &'static str {
        match &self.kind {
            AwsErrorKind::Unreachable(_) => "unreachable",
            AwsErrorKind::Service { code, .. } => match code.as_str() {
                "UnrecognizedClientException"
                | "InvalidClientTokenId"
                | "InvalidSignatureException"
                | "SignatureDoesNotMatch"
                | "InvalidAccessKeyId"
                | "ExpiredToken"
                | "ExpiredTokenException"
                | "MissingAuthenticationTokenException" => "no valid credentials",
                "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
                    "access denied"
                }
                _ => "error",
            },
            AwsErrorKind::Other(why) if why.contains("credentials") => "no valid credentials",
            AwsErrorKind::Other(_) => "error",
        }
    }
}

/// An error and its causes, one line: "what: why: why".
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            AwsErrorKind::Unreachable(why) => write!(
                f,
                "{} in {}: the endpoint did not answer ({why}); check the network, the region's health, and AWS_ENDPOINT_URL if you use one",
                self.operation, self.region
            ),
            AwsErrorKind::Service { code, message } => {
                write!(f, "{} in {}: {code}: {message}", self.operation, self.region)
            }
            AwsErrorKind::Other(why) => write!(
                f,
                "{} in {}: {why}; check the credentials and the region",
                self.operation, self.region
            ),
        }
    }
}

impl std::error::Error for AwsError {}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_efs::config::http::HttpResponse;
    use aws_sdk_efs::error::ConnectorError;
    use aws_sdk_efs::operation::describe_file_systems::DescribeFileSystemsError;

    fn dispatch(e: ConnectorError) -> AwsError {
        let err: SdkError<DescribeFileSystemsError, HttpResponse> = SdkError::dispatch_failure(e);
        AwsError::from_sdk("us-east-1", "DescribeFileSystems", err)
    }

    #[test]
    fn no_answer_is_unreachable_but_missing_credentials_is_not() {
        let refused = dispatch(ConnectorError::io("connection refused".into()));
        assert!(refused.is_unreachable(), "{refused}");
        assert!(refused.to_string().contains("did not answer"), "{refused}");
        let dropped = dispatch(ConnectorError::other(
            "connection closed before message completed".into(),
            None,
        ));
        assert!(dropped.is_unreachable());
        let creds = dispatch(ConnectorError::other(
            "an error occurred while loading credentials".into(),
            None,
        ));
        assert!(!creds.is_unreachable());
        assert!(
            creds.to_string().contains("check the credentials"),
            "{creds}"
        );
    }

    #[test]
    fn why_an_answer_is_missing_is_told_apart() {
        let service = |code: &str| AwsError {
            region: "us-east-1".into(),
            operation: "DescribeFileSystems",
            kind: AwsErrorKind::Service {
                code: code.into(),
                message: String::new(),
            },
        };
        assert_eq!(
            service("UnrecognizedClientException").category(),
            "no valid credentials"
        );
        assert_eq!(
            service("ExpiredTokenException").category(),
            "no valid credentials"
        );
        assert_eq!(service("AccessDeniedException").category(), "access denied");
        assert_eq!(service("InternalServerError").category(), "error");
        let refused = dispatch(ConnectorError::io("connection refused".into()));
        assert_eq!(refused.category(), "unreachable");
        let creds = dispatch(ConnectorError::other(
            "an error occurred while loading credentials".into(),
            None,
        ));
        assert_eq!(creds.category(), "no valid credentials");
    }
}
