//! AWS identifiers that efs-dr validates everywhere: region names and EFS file-system ids.
//!
//! Both the configuration loader and the simulator use these, so "what is a valid id" is written
//! once.

use std::fmt;

mod regions;
pub use regions::REGIONS;

use serde::{Deserialize, Serialize};

/// An AWS region name such as `us-east-1`, `eu-central-1` or `us-gov-west-1`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Region(String);

impl Region {
    /// Parses a region name: a two-letter partition prefix, one or more lowercase words, and a
    /// number, separated by dashes.
    pub fn parse(s: &str) -> Result<Region, String> {
        let parts: Vec<&str> = s.split('-').collect();
        let ok = parts.len() >= 3
            && parts[0].len() == 2
            && parts[0].bytes().all(|b| b.is_ascii_lowercase())
            && parts[1..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
            && {
                let last = parts[parts.len() - 1];
                !last.is_empty() && last.len() <= 2 && last.bytes().all(|b| b.is_ascii_digit())
            };
        let known = REGIONS.iter().any(|(_, r)| *r == s);
        if known {
            return Ok(Region(s.to_string()));
        }
        let nearest = REGIONS
            .iter()
            .map(|(_, r)| (strsim::levenshtein(r, s), *r))
            .min()
            .filter(|(d, _)| *d <= 3);
        match (ok, nearest) {
            (_, Some((_, r))) => Err(format!(
                "{s:?} is not an AWS region; did you mean {r:?}?"
            )),
            (true, None) => Err(format!(
                "{s:?} is not a region of any AWS partition (aws, aws-cn, aws-us-gov, ...); `efs-dr config validate` lists the regions it knows when in doubt"
            )),
            (false, None) => Err(format!("{s:?} is not an AWS region name")),
        }
    }

    /// The partition a known region belongs to ("aws", "aws-cn", "aws-us-gov", ...).
    pub fn partition(&self) -> Option<&'static str> {
        REGIONS.iter().find(|(_, r)| *r == self.0).map(|(p, _)| *p)
    }

    /// A region name as AWS reported it (not checked: AWS is the authority on its names).
    pub fn from_aws(s: &str) -> Region {
        Region(s.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An EFS file-system id: `fs-` followed by 8 or 17 lowercase hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FileSystemId(String);

impl FileSystemId {
    pub fn parse(s: &str) -> Result<FileSystemId, String> {
        let Some(hex) = s.strip_prefix("fs-") else {
            return Err(format!("{s:?} does not start with \"fs-\""));
        };
        if hex.len() != 8 && hex.len() != 17 {
            return Err(format!(
                "{s:?} has {} characters after \"fs-\", an EFS id has 8 or 17",
                hex.len()
            ));
        }
        if hex.bytes().any(|b| b.is_ascii_uppercase()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(format!(
                "{s:?} has uppercase letters; EFS ids are lowercase"
            ));
        }
        if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(format!(
                "{s:?} has characters that are not hexadecimal digits"
            ));
        }
        Ok(FileSystemId(s.to_string()))
    }

    /// An id as AWS reported it (not checked: AWS is the authority on its ids).
    pub fn from_aws(s: &str) -> FileSystemId {
        FileSystemId(s.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FileSystemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for FileSystemId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<str> for Region {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "eu-central-1",
            "us-gov-west-1",
            "ap-southeast-2",
            "il-central-1",
        ] {
            assert!(Region::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "useast1",
            "us-east-1a",
            "u-east-1",
            "us--1",
            "us-east-123",
            "xx-east-1",
        ] {
            assert!(Region::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Region::parse("us-wset-2").unwrap_err(),
            "\"us-wset-2\" is not an AWS region; did you mean \"us-west-2\"?"
        );
        assert_eq!(
            Region::parse("cn-north-1").unwrap().partition(),
            Some("aws-cn")
        );
        assert_eq!(
            Region::parse("us-gov-west-1").unwrap().partition(),
            Some("aws-us-gov")
        );
    }

    /// The embedded list is botocore's: every partition's regions, no more, no less.
    #[test]
    fn the_region_list_is_botocores() {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import botocore, json, os\nd = json.load(open(os.path.join(os.path.dirname(botocore.__file__), 'data', 'partitions.json')))\nfor p in d['partitions']:\n    for r in sorted(p['regions']):\n        if not r.endswith('-global'): print(p['id'], r)",
            ])
            .output()
            .expect("python3 runs (make test installs botocore)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(p, r)| (p.to_string(), r.to_string()))
            .collect();
        let ours: Vec<(String, String)> = REGIONS
            .iter()
            .map(|(p, r)| (p.to_string(), r.to_string()))
            .collect();
        assert_eq!(
            ours, theirs,
            "update src/regions.rs from botocore's partitions.json"
        );
    }

    #[test]
    fn file_system_ids() {
        assert!(FileSystemId::parse("fs-0123456789abcdef0").is_ok());
        assert!(FileSystemId::parse("fs-01234567").is_ok());
        let e = FileSystemId::parse("fs-0123456789ABCDEF0").unwrap_err();
        assert!(e.contains("uppercase"), "{e}");
        let e = FileSystemId::parse("fs-0123").unwrap_err();
        assert!(e.contains("8 or 17"), "{e}");
        let e = FileSystemId::parse("fsx-01234567").unwrap_err();
        assert!(e.contains("fs-"), "{e}");
        let e = FileSystemId::parse("fs-0123456z").unwrap_err();
        assert!(e.contains("hexadecimal"), "{e}");
    }
}
