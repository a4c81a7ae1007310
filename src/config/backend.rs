//! What efs-dr itself needs to know of an S3 state backend: where the state lives (its run
//! lease is kept beside it) and how to reach that bucket. The block is still passed through to
//! the rendered root as written; Terraform validates the rest of it.

use std::ops::Range;

use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Block, Structure};
use hcl_edit::Span;
use serde::Serialize;

use super::reader::Issues;

/// The settings of `backend "s3" { ... }` that the run lease uses.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct S3Backend {
    pub bucket: String,
    /// The state object's key; the lease is `<key>.efs-dr-lease`, as Terraform's own lock is
    /// `<key>.tflock`.
    pub key: String,
    pub region: Option<String>,
    /// `endpoints = { s3 = ... }` (or the older `endpoint`); else the standard
    /// `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`.
    pub endpoint: Option<String>,
    /// `use_path_style` (or the older `force_path_style`).
    pub path_style: bool,
    pub profile: Option<String>,
    /// Terraform locks the state (`use_lockfile = true` or a `dynamodb_table`).
    pub locks_state: bool,
}

pub(super) const S3_EXAMPLE: &str = "backend \"s3\" {\n  bucket       = \"tf-state\"\n  key          = \"efs-dr/terraform.tfstate\"\n  region       = \"us-east-1\"\n  use_lockfile = true\n}";

fn text(expr: &Expression) -> Option<String> {
    match expr {
        Expression::String(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

fn boolean(expr: &Expression) -> Option<bool> {
    match expr {
        Expression::Bool(b) => Some(*b.value()),
        _ => None,
    }
}

/// Backend arguments that hold a secret: refused, since the block is rendered into the root.
const SECRETS: &[&str] = &[
    "access_key",
    "secret_key",
    "token",
    "sse_customer_key",
    "web_identity_token",
];

/// Reads the S3 settings of a `backend "s3"` block; problems go to `issues`.
pub(super) fn read_s3(block: &Block, issues: &mut Issues) -> Option<S3Backend> {
    let path = "terraform > backend \"s3\"";
    let mut found = S3Backend {
        bucket: String::new(),
        key: String::new(),
        region: None,
        endpoint: None,
        path_style: false,
        profile: None,
        locks_state: false,
    };
    let mut ok = true;
    let mut secrets = false;
    let mut not_literal = |span: Option<Range<usize>>, key: &str, issues: &mut Issues| {
        ok = false;
        issues.push(
            span,
            &format!("{path} > {key}"),
            "must be a literal value (a backend block cannot use variables or expressions)",
            Some(S3_EXAMPLE.to_string()),
        );
    };
    for structure in block.body.iter() {
        let Structure::Attribute(attr) = structure else {
            continue;
        };
        let key = attr.key.as_str();
        let value = &attr.value;
        let string = |slot: &mut Option<String>| {
            *slot = text(value);
            slot.is_some()
        };
        let fine = match key {
            "bucket" => text(value).map(|v| found.bucket = v).is_some(),
            "key" => text(value).map(|v| found.key = v).is_some(),
            "region" => string(&mut found.region),
            "profile" => string(&mut found.profile),
            secret if SECRETS.contains(&secret) => {
                secrets = true;
                issues.push(
                    attr.span(),
                    &format!("{path} > {secret}"),
                    format!("{secret} is a secret, and efs-dr renders this block into the root that pull-request mode commits to git: keep it out of efs-dr.hcl. Give credentials through the environment (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), `profile = \"NAME\"`, OIDC in CI (a web identity role), or a partial backend configuration file kept out of git and passed to every `terraform init` with TF_CLI_ARGS_init=\"-backend-config=FILE\""),
                    Some(S3_EXAMPLE.to_string()),
                );
                true
            }
            "endpoint" => string(&mut found.endpoint),
            "endpoints" => match value {
                Expression::Object(object) => {
                    for (k, v) in object.iter() {
                        let name = match k {
                            ObjectKey::Ident(i) => i.as_str().to_string(),
                            ObjectKey::Expression(e) => text(e).unwrap_or_default(),
                        };
                        if name == "s3" {
                            found.endpoint = text(v.expr());
                        }
                    }
                    true
                }
                _ => false,
            },
            "use_path_style" | "force_path_style" => {
                boolean(value).map(|b| found.path_style |= b).is_some()
            }
            "use_lockfile" => boolean(value).map(|b| found.locks_state |= b).is_some(),
            "dynamodb_table" => text(value).map(|_| found.locks_state = true).is_some(),
            _ => true,
        };
        if !fine {
            not_literal(value.span(), key, issues);
        }
    }
    if secrets {
        return None;
    }
    for (key, value) in [("bucket", &found.bucket), ("key", &found.key)] {
        if value.trim().is_empty() && ok {
            ok = false;
            issues.push(
                block.span(),
                &format!("{path} > {key}"),
                format!("{key} is missing: efs-dr keeps its run lease beside the state, in the same bucket"),
                Some(S3_EXAMPLE.to_string()),
            );
        }
    }
    if ok && !found.locks_state {
        ok = false;
        issues.push(
            block.span(),
            path,
            "Terraform would not lock this state (no use_lockfile = true, no dynamodb_table): two runs could write it at once; add use_lockfile = true",
            Some(S3_EXAMPLE.to_string()),
        );
    }
    ok.then_some(found)
}
