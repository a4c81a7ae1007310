//! The plan as `terraform show -json PLANFILE` prints it, typed for what efs-dr checks.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
pub struct PlanJson {
    #[serde(default)]
    pub format_version: String,
    #[serde(default)]
    pub terraform_version: String,
    #[serde(default)]
    pub resource_changes: Vec<ResourceChange>,
    /// The root module's input variables, as `{"name": {"value": ...}}`.
    #[serde(default)]
    pub variables: Option<Value>,
    #[serde(default)]
    pub planned_values: Option<Value>,
    #[serde(default)]
    pub prior_state: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResourceChange {
    pub address: String,
    #[serde(default)]
    pub mode: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub change: Change,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Change {
    pub actions: Vec<String>,
    #[serde(default)]
    pub before: Option<Value>,
    #[serde(default)]
    pub after: Option<Value>,
    /// Set when the plan imports the resource (an `import` block).
    #[serde(default)]
    pub importing: Option<Value>,
}

/// What a resource change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    NoOp,
    Read,
    Create,
    Update,
    Delete,
    Replace,
}

impl ChangeKind {
    /// The word Terraform's plan JSON uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::NoOp => "noop",
            ChangeKind::Read => "read",
            ChangeKind::Create => "create",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
            ChangeKind::Replace => "replace",
        }
    }
}

impl ResourceChange {
    pub fn kind(&self) -> ChangeKind {
        let a: Vec<&str> = self.change.actions.iter().map(String::as_str).collect();
        match a.as_slice() {
            ["create"] => ChangeKind::Create,
            ["update"] => ChangeKind::Update,
            ["delete"] => ChangeKind::Delete,
            ["read"] => ChangeKind::Read,
            ["delete", "create"] | ["create", "delete"] => ChangeKind::Replace,
            _ => ChangeKind::NoOp,
        }
    }
}

impl PlanJson {
    pub fn parse(json: &str) -> Result<PlanJson, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    /// The changes that change something (no-ops and data reads left out).
    pub fn changes(&self) -> Vec<&ResourceChange> {
        self.resource_changes
            .iter()
            .filter(|c| !matches!(c.kind(), ChangeKind::NoOp | ChangeKind::Read))
            .collect()
    }
}
