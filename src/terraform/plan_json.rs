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
    /// Terraform >= 1.14: actions a plan would invoke (side effects `resource_changes` does not
    /// show), and what it deferred: efs-dr never lets either through.
    #[serde(default)]
    pub action_invocations: Vec<Value>,
    #[serde(default)]
    pub deferred_action_invocations: Vec<Value>,
    #[serde(default)]
    pub deferred_changes: Vec<Value>,
    /// What a refresh found changed outside Terraform (empty when the plan did not refresh, or
    /// the refresh found nothing). The plan file records no refresh flag: this is its trace.
    #[serde(default)]
    pub resource_drift: Vec<ResourceChange>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResourceChange {
    pub address: String,
    #[serde(default)]
    pub mode: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub change: Change,
    /// Where the instance was before a `moved` block (Terraform >= 1.1), when it moved: a
    /// forget (`removed` with `destroy = false`) of a moved instance names it here.
    #[serde(default)]
    pub previous_address: Option<String>,
    /// Why Terraform plans this change (`replace_because_tainted`, ...), when it says.
    #[serde(default)]
    pub action_reason: Option<String>,
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
    /// Terraform >= 1.7: `removed { lifecycle { destroy = false } }`: out of the state, left
    /// in AWS.
    Forget,
    /// An action list efs-dr does not know (a newer Terraform): never taken for a no-op.
    Unknown,
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
            ChangeKind::Forget => "forget",
            ChangeKind::Unknown => "unknown",
        }
    }
}

impl ResourceChange {
    /// The instance the change is about: a forget's instance as the state held it (its
    /// `previous_address` when it was moved to be forgotten), else its address.
    pub fn subject(&self) -> &str {
        match (self.kind(), &self.previous_address) {
            (ChangeKind::Forget, Some(previous)) => previous,
            _ => &self.address,
        }
    }

    pub fn kind(&self) -> ChangeKind {
        let a: Vec<&str> = self.change.actions.iter().map(String::as_str).collect();
        match a.as_slice() {
            ["create"] => ChangeKind::Create,
            ["update"] => ChangeKind::Update,
            ["delete"] => ChangeKind::Delete,
            ["read"] => ChangeKind::Read,
            ["delete", "create"] | ["create", "delete"] => ChangeKind::Replace,
            ["no-op"] | [] => ChangeKind::NoOp,
            ["forget"] => ChangeKind::Forget,
            _ => ChangeKind::Unknown,
        }
    }
}

impl ResourceChange {
    /// An in-place update of a replication that changes nothing in AWS: its `timeouts` (kept
    /// in the state only: after an import, or a state written before the module set them), and
    /// provider 6.x's `region` going from null (a state written by 5.x, planned without
    /// refresh) to the replication's own source region, the provider's (upstream applies it as
    /// a no-op, `schema.NoopContext`). Anything more is a change.
    pub fn is_metadata_only(&self) -> bool {
        if self.kind() != ChangeKind::Update
            || self.resource_type != "aws_efs_replication_configuration"
        {
            return false;
        }
        let (Some(Value::Object(before)), Some(Value::Object(after))) =
            (&self.change.before, &self.change.after)
        else {
            return false;
        };
        let region_ok = before.get("region") == after.get("region") || {
            let was_unset = matches!(before.get("region"), None | Some(Value::Null))
                || before.get("region").and_then(Value::as_str) == Some("");
            let source_region = before
                .get("source_file_system_region")
                .and_then(Value::as_str);
            let filled = after.get("region").and_then(Value::as_str);
            was_unset && filled.is_some() && filled == source_region
        };
        let rest_same = before
            .keys()
            .chain(after.keys())
            .filter(|k| !matches!(k.as_str(), "region" | "timeouts"))
            .all(|k| before.get(k) == after.get(k));
        region_ok && rest_same
    }
}

impl PlanJson {
    pub fn parse(json: &str) -> Result<PlanJson, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// What the plan imports (an `import` block): (address, id). An import whose object
    /// matches its configuration plans as a no-op, so `changes()` does not show it: it is
    /// still a change of what Terraform manages.
    pub fn imports(&self) -> Vec<(String, String)> {
        self.resource_changes
            .iter()
            .filter_map(|c| {
                let importing = c.change.importing.as_ref()?;
                let id = importing
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("(an identity, not an id)");
                Some((c.address.clone(), id.to_string()))
            })
            .collect()
    }

    /// What the plan would do beyond its resource changes: action invocations and deferred
    /// changes (Terraform >= 1.14), each named for a refusal.
    pub fn side_effects(&self) -> Vec<String> {
        let name = |what: &str, v: &Value| {
            let id = v
                .get("address")
                .or_else(|| v.get("action_address"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            format!("{what} {id}")
        };
        self.action_invocations
            .iter()
            .map(|v| name("action invocation", v))
            .chain(
                self.deferred_action_invocations
                    .iter()
                    .map(|v| name("deferred action invocation", v)),
            )
            .chain(
                self.deferred_changes
                    .iter()
                    .map(|v| name("deferred change", v.get("resource_change").unwrap_or(v))),
            )
            .collect()
    }

    /// The changes that change something (no-ops, data reads and metadata-only updates of a
    /// replication left out).
    pub fn changes(&self) -> Vec<&ResourceChange> {
        self.resource_changes
            .iter()
            .filter(|c| !matches!(c.kind(), ChangeKind::NoOp | ChangeKind::Read))
            .filter(|c| !c.is_metadata_only())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(before: Value, after: Value) -> ResourceChange {
        serde_json::from_value(serde_json::json!({
            "address": "module.m.aws_efs_replication_configuration.forward[\"a\"]",
            "type": "aws_efs_replication_configuration",
            "change": {"actions": ["update"], "before": before, "after": after}
        }))
        .unwrap()
    }

    #[test]
    fn only_timeouts_and_a_region_filled_in_with_the_source_region_are_metadata() {
        let before = serde_json::json!({"id": "fs-1", "region": null, "source_file_system_region": "us-east-1", "timeouts": null});
        let filled = serde_json::json!({"id": "fs-1", "region": "us-east-1", "source_file_system_region": "us-east-1", "timeouts": null});
        assert!(update(before.clone(), filled.clone()).is_metadata_only());
        let timed = serde_json::json!({"id": "fs-1", "region": null, "source_file_system_region": "us-east-1", "timeouts": {"create": "1h", "delete": "1h"}});
        assert!(
            update(before.clone(), timed).is_metadata_only(),
            "timeouts only"
        );
        let other = serde_json::json!({"id": "fs-1", "region": "eu-west-1", "source_file_system_region": "us-east-1", "timeouts": null});
        assert!(
            !update(before.clone(), other).is_metadata_only(),
            "another region"
        );
        let more = serde_json::json!({"id": "fs-2", "region": "us-east-1", "source_file_system_region": "us-east-1", "timeouts": null});
        assert!(
            !update(before, more).is_metadata_only(),
            "something else changes"
        );
        let moved = serde_json::json!({"id": "fs-1", "region": "us-west-2", "source_file_system_region": "us-east-1", "timeouts": null});
        assert!(
            !update(filled, moved).is_metadata_only(),
            "a region already set"
        );
    }
}
