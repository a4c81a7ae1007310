//! Terraform versions: `terraform version -json` and the minimum efs-dr supports.

use std::fmt;

use serde::Deserialize;

/// The module uses nothing newer than Terraform 1.5.
pub const MINIMUM: Version = Version(1, 5, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let core = s.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
        Some(Version(
            parts.next()??,
            parts.next()??,
            parts.next().flatten().unwrap_or(0),
        ))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// Which tool the binary is: both answer `version -json` with a `terraform_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Flavour {
    Terraform,
    OpenTofu,
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavour::Terraform => "Terraform",
            Flavour::OpenTofu => "OpenTofu",
        })
    }
}

#[derive(Deserialize)]
struct VersionJson {
    terraform_version: String,
    /// Terraform always prints it (`internal/command/version.go`, no omitempty); OpenTofu's
    /// output has no such field (`internal/command/views/version.go`).
    terraform_outdated: Option<bool>,
}

pub fn args() -> Vec<String> {
    vec!["version".into(), "-json".into()]
}

/// Parses `version -json` (Terraform and OpenTofu both print `terraform_version`).
pub fn parse_output(stdout: &str) -> Option<(Flavour, Version)> {
    let v: VersionJson = serde_json::from_str(stdout).ok()?;
    let flavour = match v.terraform_outdated {
        Some(_) => Flavour::Terraform,
        None => Flavour::OpenTofu,
    };
    Some((flavour, Version::parse(&v.terraform_version)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(Version::parse("1.15.5"), Some(Version(1, 15, 5)));
        assert_eq!(Version::parse("v1.6.0-alpha1"), Some(Version(1, 6, 0)));
        assert!(Version(1, 4, 9) < MINIMUM && Version(1, 5, 0) >= MINIMUM);
        assert_eq!(
            parse_output(
                r#"{"terraform_version":"1.15.5","platform":"linux_amd64","provider_selections":{},"terraform_outdated":false}"#
            ),
            Some((Flavour::Terraform, Version(1, 15, 5)))
        );
        // OpenTofu 1.9's answer: no terraform_outdated.
        assert_eq!(
            parse_output(
                r#"{"terraform_version":"1.9.1","platform":"linux_amd64","provider_selections":{}}"#
            ),
            Some((Flavour::OpenTofu, Version(1, 9, 1)))
        );
        assert_eq!(parse_output("Terraform v1.2"), None);
    }
}
