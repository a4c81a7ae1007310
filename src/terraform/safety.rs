//! The plan safety check: a phase allows a set of changes; a plan with anything more is refused
//! before it is applied.

use std::fmt;

use super::plan_json::{ChangeKind, PlanJson};

/// One change a phase allows: this resource address, this kind of change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AllowedChange {
    pub address: String,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnexpectedChange {
    pub address: String,
    pub kind: ChangeKind,
    /// Terraform's reason for it (`replace_because_tainted`, ...).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsafePlan {
    pub unexpected: Vec<UnexpectedChange>,
    pub allowed: Vec<AllowedChange>,
}

impl fmt::Display for UnsafePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the plan changes more than this phase allows; nothing was applied. Unexpected:"
        )?;
        for u in &self.unexpected {
            writeln!(f, "  - {:?} {}", u.kind, u.address)?;
        }
        if self.allowed.is_empty() {
            write!(f, "  this phase allows no change")?;
        } else {
            write!(f, "  this phase allows only:")?;
            for a in &self.allowed {
                write!(f, "\n  - {:?} {}", a.kind, a.address)?;
            }
        }
        write!(f, "\n  hint: review `terraform plan` in the Terraform directory; something outside efs-dr's module changed, or the state drifted")
    }
}

impl std::error::Error for UnsafePlan {}

/// Ok when every change of the plan is allowed (an allowed change may be absent: already done).
pub fn check(plan: &PlanJson, allowed: &[AllowedChange]) -> Result<(), UnsafePlan> {
    let side_effects = plan
        .side_effects()
        .into_iter()
        .map(|what| UnexpectedChange {
            address: what,
            kind: ChangeKind::Unknown,
            reason: None,
        });
    let unexpected: Vec<UnexpectedChange> = plan
        .changes()
        .into_iter()
        .filter(|c| {
            !allowed
                .iter()
                .any(|a| a.address == c.subject() && a.kind == c.kind())
        })
        .map(|c| UnexpectedChange {
            address: c.address.clone(),
            kind: c.kind(),
            reason: c.action_reason.clone(),
        })
        .chain(side_effects)
        .collect();
    if unexpected.is_empty() {
        Ok(())
    } else {
        Err(UnsafePlan {
            unexpected,
            allowed: allowed.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"{"format_version":"1.2","resource_changes":[
      {"address":"module.m.aws_efs_replication_configuration.forward[\"a\"]","mode":"managed","type":"aws_efs_replication_configuration","change":{"actions":["delete"],"before":{},"after":null}},
      {"address":"aws_efs_file_system.home","mode":"managed","type":"aws_efs_file_system","change":{"actions":["delete","create"]}},
      {"address":"data.aws_efs_file_system.x","mode":"data","type":"aws_efs_file_system","change":{"actions":["read"]}},
      {"address":"module.m.aws_efs_replication_configuration.forward[\"b\"]","mode":"managed","type":"aws_efs_replication_configuration","change":{"actions":["no-op"]}}
    ]}"#;

    fn allow(address: &str, kind: ChangeKind) -> AllowedChange {
        AllowedChange {
            address: address.into(),
            kind,
        }
    }

    #[test]
    fn a_forget_an_unknown_action_and_action_invocations_are_never_taken_for_no_ops() {
        let plan = PlanJson::parse(
            r#"{"format_version":"1.2","resource_changes":[
              {"address":"module.m.aws_efs_replication_configuration.efs_dr_forgotten[0]","previous_address":"module.m.aws_efs_replication_configuration.forward[0]","type":"aws_efs_replication_configuration","change":{"actions":["forget"],"before":{},"after":null}},
              {"address":"x.y","type":"aws_efs_file_system","change":{"actions":["frobnicate"]}}
            ],
            "action_invocations":[{"address":"action.aws_lambda_invoke.notify"}]}"#,
        )
        .unwrap();
        let err = check(&plan, &[]).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("Forget module.m.aws_efs_replication_configuration.efs_dr_forgotten"),
            "{shown}"
        );
        assert!(shown.contains("Unknown x.y"), "{shown}");
        assert!(
            shown.contains("action invocation action.aws_lambda_invoke.notify"),
            "{shown}"
        );
    }

    #[test]
    fn only_allowed_changes_pass() {
        let plan = PlanJson::parse(PLAN).unwrap();
        assert_eq!(plan.changes().len(), 2);
        let a = "module.m.aws_efs_replication_configuration.forward[\"a\"]";
        let err = check(&plan, &[allow(a, ChangeKind::Delete)]).unwrap_err();
        assert_eq!(
            err.unexpected,
            vec![UnexpectedChange {
                address: "aws_efs_file_system.home".into(),
                kind: ChangeKind::Replace,
                reason: None,
            }]
        );
        let shown = err.to_string();
        assert!(
            shown.contains("Replace aws_efs_file_system.home")
                && shown.contains("nothing was applied"),
            "{shown}"
        );
        // The right kind matters, not just the address.
        let err = check(
            &plan,
            &[
                allow(a, ChangeKind::Create),
                allow("aws_efs_file_system.home", ChangeKind::Replace),
            ],
        )
        .unwrap_err();
        assert_eq!(err.unexpected.len(), 1);
        assert!(check(
            &plan,
            &[
                allow(a, ChangeKind::Delete),
                allow("aws_efs_file_system.home", ChangeKind::Replace)
            ]
        )
        .is_ok());
    }

    #[test]
    fn a_forget_is_allowed_by_the_instance_it_forgets_never_by_the_address_it_was_moved_to() {
        let forward =
            |p: &str| format!("module.m.aws_efs_replication_configuration.forward[\"{p}\"]");
        let plan = |previous: &str| {
            PlanJson::parse(&format!(
                r#"{{"format_version":"1.2","resource_changes":[
                  {{"address":"module.m.aws_efs_replication_configuration.efs_dr_forgotten[\"a\"]","previous_address":{previous:?},"type":"aws_efs_replication_configuration","action_reason":"delete_because_no_move_target","change":{{"actions":["forget"],"before":{{}},"after":null}}}}
                ]}}"#
            ))
            .unwrap()
        };
        let allowed = [allow(&forward("a"), ChangeKind::Forget)];
        assert!(check(&plan(&forward("a")), &allowed).is_ok());
        // Another pair's instance, or a delete of the same: refused.
        assert!(check(&plan(&forward("b")), &allowed).is_err());
        assert!(check(
            &plan(&forward("a")),
            &[allow(&forward("a"), ChangeKind::Delete)]
        )
        .is_err());
        // A forget allowed for the moved-to address does not let the instance go.
        let moved_to = "module.m.aws_efs_replication_configuration.efs_dr_forgotten[\"a\"]";
        assert!(check(&plan(&forward("a")), &[allow(moved_to, ChangeKind::Forget)]).is_err());
    }
}
