//! The pull-request body of a proposal: GitHub-flavoured Markdown from a tera template, kept
//! under GitHub's 65,535-character limit by cutting the full plan (with a note saying so).

use std::collections::BTreeMap;

use serde::Serialize;

use super::proposal::{Proposal, ProposedPair};
use crate::dr::gate::fmt_dur;
use crate::dr::planner::Operation;

const TEMPLATE: &str = include_str!("../../templates/pr/body.md.tera");

/// GitHub refuses a pull-request body longer than this (characters).
pub const GITHUB_BODY_LIMIT: usize = 65_535;

/// Room kept for what a team adds around the body (a checklist, a link).
const MARGIN: usize = 1_000;

#[derive(Serialize)]
struct Row<'a> {
    pair: &'a str,
    a: String,
    b: String,
    title: String,
    direction_before: &'a str,
    direction_after: &'a str,
    replication: String,
    lag: String,
    last_sync: String,
    protection_a: String,
    protection_b: String,
    risk: String,
}

#[derive(Serialize)]
struct Group {
    pairs: String,
    items: Vec<String>,
}

/// A table cell: one line, pipes escaped.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn groups(p: &Proposal, items: impl Fn(&ProposedPair) -> Vec<String>) -> Vec<Group> {
    let mut by: BTreeMap<Vec<String>, Vec<&str>> = BTreeMap::new();
    for pair in &p.pairs {
        by.entry(items(pair)).or_default().push(&pair.pair);
    }
    by.into_iter()
        .map(|(items, pairs)| Group {
            pairs: if pairs.len() == p.pairs.len() && pairs.len() > 1 {
                format!("every pair ({})", pairs.len())
            } else {
                pairs
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            items: if items.is_empty() {
                vec!["nothing".into()]
            } else {
                items.iter().map(|i| i.replace('\n', " ")).collect()
            },
        })
        .collect()
}

fn render(
    p: &Proposal,
    max_lag: &str,
    plan_text: &str,
    plan_note: Option<&str>,
) -> Result<String, tera::Error> {
    let rows: Vec<Row> = p
        .pairs
        .iter()
        .map(|x| Row {
            pair: &x.pair,
            a: cell(&x.a),
            b: cell(&x.b),
            title: cell(&x.title),
            direction_before: x.direction_before.as_str(),
            direction_after: x.direction_after.as_str(),
            replication: cell(&x.status.replication),
            lag: x
                .status
                .lag_seconds
                .map(|s| fmt_dur(std::time::Duration::from_secs(s)))
                .unwrap_or_else(|| "-".into()),
            last_sync: x.status.last_sync.clone().unwrap_or_else(|| "never".into()),
            protection_a: x
                .status
                .protection_a
                .clone()
                .unwrap_or_else(|| "unknown".into()),
            protection_b: x
                .status
                .protection_b
                .clone()
                .unwrap_or_else(|| "unknown".into()),
            risk: match (&x.risk, p.operation) {
                (Some(r), _) => cell(&r.text),
                (None, Operation::Failback) => {
                    "none: the cut-over waits until writes on B stopped and reached A".into()
                }
                (None, _) => "-".into(),
            },
        })
        .collect();
    let (intro, rpo_note) = match p.operation {
        Operation::Failover { unplanned } => (
            format!(
                "A {}failover makes B writable: this pull request carries its Terraform phase. Data at risk is what was written on A after the last completed sync.",
                if unplanned { "unplanned " } else { "" }
            ),
            format!("The RPO gate allows a last sync at most {max_lag} old."),
        ),
        _ => (
            "A failback brings the data home to A without changing any file-system id: this pull request carries one of its Terraform phases.".to_string(),
            "The cut-over to A waits until writes on B stopped and B -> A synced past the last one.".to_string(),
        ),
    };
    let mut ctx = tera::Context::new();
    ctx.insert("title", &p.title);
    ctx.insert("intro", &intro);
    ctx.insert("route", &route(p));
    ctx.insert("rpo_note", &rpo_note);
    ctx.insert("pairs", &rows);
    ctx.insert("unchanged", &p.unchanged);
    ctx.insert("proposed_at", p.proposed_at.as_deref().unwrap_or("unknown"));
    ctx.insert("plan_line", &p.plan.line());
    ctx.insert("plan_text", plan_text.trim_end());
    ctx.insert("plan_note", &plan_note);
    ctx.insert("forgets", &forgets(p));
    ctx.insert("before_groups", &groups(p, ProposedPair::before_apply));
    ctx.insert("after_groups", &groups(p, ProposedPair::after_apply));
    ctx.insert("commands", &p.commands);
    ctx.insert("operation", p.operation.name());
    ctx.insert("version", env!("CARGO_PKG_VERSION"));
    tera::Tera::one_off(TEMPLATE, &ctx, false)
}

/// An object (a replication, or its lag alarm) this proposal's phase forgets.
#[derive(Serialize)]
struct Forgotten {
    pair: String,
    address: String,
}

/// What the proposal's Terraform phases remove from the state without destroying.
fn forgets(p: &Proposal) -> Vec<Forgotten> {
    p.pairs
        .iter()
        .flat_map(|x| {
            x.route
                .iter()
                .filter(|s| s.stage == crate::dr::pending::Stage::Apply)
                .flat_map(|s| &s.actions)
                .filter_map(|a| match a {
                    crate::dr::decide::Action::StateRm { address } => Some(Forgotten {
                        pair: x.pair.clone(),
                        address: address.clone(),
                    }),
                    _ => None,
                })
        })
        .collect()
}

/// Where this pull request stands in its operation: "PR 1 of 3 of the failback; the next needs
/// the application on B stopped".
pub fn route(p: &Proposal) -> Option<String> {
    use crate::dr::planner::{next_needs, route_position};
    let step = p.pairs.iter().map(|x| x.step).min()?;
    let (n, m) = route_position(p.operation, step)?;
    let op = p.operation.name();
    let next = if n == m {
        format!("the last: once it is applied and gated, the {op} is done")
    } else {
        match next_needs(p.operation, step) {
            Some(needs) => format!("the next needs {needs}"),
            None => "the next is proposed once this one is applied and gated".into(),
        }
    };
    Some(format!("**PR {n} of {m}** of the {op}; {next}."))
}

/// The body, at most `GITHUB_BODY_LIMIT - MARGIN` characters: the full plan is cut at a line
/// when it does not fit, and the body says so.
pub fn body(p: &Proposal, max_lag: &str, plan_text: &str) -> Result<String, tera::Error> {
    let limit = GITHUB_BODY_LIMIT - MARGIN;
    let full = render(p, max_lag, plan_text, None)?;
    if full.chars().count() <= limit {
        return Ok(full);
    }
    let note = |kept: usize, total: usize| {
        format!(
            "**The full plan was cut to its first {kept} of {total} lines to keep this body under GitHub's {GITHUB_BODY_LIMIT} characters.** Run `terraform show` on the plan, or see the pipeline's plan job, for all of it."
        )
    };
    let lines: Vec<&str> = plan_text.lines().collect();
    let without = render(p, max_lag, "", Some(&note(lines.len(), lines.len())))?;
    let room = limit.saturating_sub(without.chars().count());
    let mut kept = 0;
    let mut used = 0;
    for l in &lines {
        let n = l.chars().count() + 1;
        if used + n > room {
            break;
        }
        used += n;
        kept += 1;
    }
    let cut = lines[..kept].join("\n");
    let out = render(p, max_lag, &cut, Some(&note(kept, lines.len())))?;
    if out.chars().count() <= limit {
        return Ok(out);
    }
    // Too many pairs for even the tables: cut the body itself, still valid Markdown.
    let tail = format!(
        "\n\n**This body was cut at {limit} characters: {} pairs do not fit. The JSON summary holds every pair.**\n",
        p.pairs.len()
    );
    let keep = limit - tail.chars().count();
    let mut s: String = out.chars().take(keep).collect();
    if let Some(i) = s.rfind('\n') {
        s.truncate(i);
    }
    s.push_str(&tail);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use comrak::nodes::NodeValue;
    use comrak::{parse_document, Arena, Options};

    use super::super::proposal::*;
    use super::*;
    use crate::dr::decide::Action;
    use crate::dr::pending::{ReviewedStep, Stage};
    use crate::dr::phase::{Gate, Step};
    use crate::dr::risk::Risk;
    use crate::dr::view::Role;
    use crate::render::Direction;

    fn proposal(pairs: usize) -> Proposal {
        Proposal {
            format: FORMAT,
            operation: Operation::Failover { unplanned: false },
            title: format!("efs-dr failover: remove A -> B through Terraform ({pairs} pairs)"),
            proposed_at: Some("2026-11-22T03:00:00Z".into()),
            pairs: (0..pairs)
                .map(|i| ProposedPair {
                    pair: format!("pair-{i:03}"),
                    a: format!("fs-{i:017x} (us-east-1)"),
                    b: format!("fs-{:017x} (us-west-2)", i + 1000),
                    step: Step::RemoveForward,
                    title: Step::RemoveForward.title().into(),
                    direction_before: Direction::Forward,
                    direction_after: Direction::None,
                    found: "A -> B is ENABLED".into(),
                    status: LiveStatus {
                        replication: "A -> B ENABLED".into(),
                        lag_seconds: Some(61),
                        last_sync: Some("2026-11-22T02:59:00Z".into()),
                        protection_a: Some("ENABLED".into()),
                        protection_b: Some("REPLICATING".into()),
                    },
                    risk: Some(Risk {
                        text: "1m 1s (last write on A 2026-11-22T03:00:00Z | pipe, last completed sync 2026-11-22T02:59:00Z)".into(),
                        seconds: Some(61.0),
                    }),
                    route: vec![
                        ReviewedStep {
                            stage: Stage::BeforeApply,
                            step: Step::CheckRpo,
                            gate_only: false,
                            actions: vec![Action::Gate {
                                gate: Gate::Rpo {
                                    max_lag: std::time::Duration::from_secs(900),
                                    force: false,
                                    writes_stopped: false,
                                    writes_stopped_at: None,
                                },
                            }],
                        },
                        ReviewedStep {
                            stage: Stage::Apply,
                            step: Step::RemoveForward,
                            gate_only: false,
                            actions: vec![Action::Gate {
                                gate: Gate::NoReplication {
                                    roles: vec![Role::A, Role::B],
                                    writable: Role::B,
                                },
                            }],
                        },
                    ],
                })
                .collect(),
            unchanged: vec![],
            plan: PlanCounts {
                import: 0,
                add: 0,
                change: 0,
                destroy: pairs,
                forget: 0,
            },
            terraform: PlanMaker {
                terraform_version: "1.15.5".into(),
                format_version: "1.2".into(),
            },
            commands: Commands {
                before_apply: "efs-dr gate failover --before-apply".into(),
                plan_flags: vec![],
                apply: "terraform -chdir=terraform apply".into(),
                after_apply: "efs-dr gate failover --after-apply".into(),
                next: None,
            },
        }
    }

    /// A plan as `terraform show` prints one deletion per pair.
    fn plan_text(pairs: usize) -> String {
        let mut s = String::from("Terraform will perform the following actions:\n\n");
        for i in 0..pairs {
            s.push_str(&format!(
                "  # module.us_east_1__us_west_2.aws_efs_replication_configuration.forward[\"pair-{i:03}\"] will be destroyed\n  - resource \"aws_efs_replication_configuration\" \"forward\" {{\n"
            ));
            for k in 0..30 {
                s.push_str(&format!(
                    "      - attribute_{k:02} = \"value of attribute {k} for pair {i}\" -> null\n"
                ));
            }
            s.push_str("    }\n\n");
        }
        s.push_str(&format!(
            "Plan: 0 to add, 0 to change, {pairs} to destroy.\n"
        ));
        s
    }

    struct Parsed {
        /// (rows including the header, columns) of each table.
        tables: Vec<(usize, usize)>,
        html: Vec<String>,
        code: Vec<String>,
        /// The text of every paragraph, in order, with the index of the first HTML block.
        strong: Vec<String>,
        strong_before_details: bool,
    }

    fn parse(body: &str) -> Parsed {
        let arena = Arena::new();
        let mut options = Options::default();
        options.extension.table = true;
        options.extension.strikethrough = true;
        options.extension.autolink = true;
        let root = parse_document(&arena, body, &options);
        let mut p = Parsed {
            tables: vec![],
            html: vec![],
            code: vec![],
            strong: vec![],
            strong_before_details: false,
        };
        for node in root.descendants() {
            match &node.data.borrow().value {
                NodeValue::Table(t) => {
                    let rows = node.children().count();
                    p.tables.push((rows, t.num_columns));
                }
                NodeValue::HtmlBlock(h) => p.html.push(h.literal.clone()),
                NodeValue::CodeBlock(c) => p.code.push(c.literal.clone()),
                NodeValue::Strong => {
                    let text: String = node
                        .descendants()
                        .filter_map(|n| match &n.data.borrow().value {
                            NodeValue::Text(t) => Some(t.to_string()),
                            _ => None,
                        })
                        .collect();
                    if text.starts_with("Plan:") && !p.html.iter().any(|h| h.contains("<details>"))
                    {
                        p.strong_before_details = true;
                    }
                    p.strong.push(text);
                }
                _ => {}
            }
        }
        p
    }

    #[test]
    fn a_small_body_has_its_tables_its_plan_line_outside_details_and_the_whole_plan_inside() {
        let text = body(&proposal(2), "15m", &plan_text(2)).unwrap();
        assert!(text.starts_with("# efs-dr failover: remove A -> B"));
        let p = parse(&text);
        // Pairs and live status: a header and one row per pair each (pipes in cells escaped).
        assert_eq!(p.tables, vec![(3, 5), (3, 7)]);
        assert!(p
            .html
            .iter()
            .any(|h| h.starts_with("<details>") && h.contains("<summary>")));
        assert!(p.html.iter().any(|h| h.trim() == "</details>"));
        assert!(p.strong_before_details, "{:?}", p.strong);
        assert_eq!(p.code.len(), 1);
        assert_eq!(p.code[0].trim_end(), plan_text(2).trim_end());
        assert!(!text.contains("was cut"));
    }

    #[test]
    fn a_hundred_pairs_stay_under_githubs_limit_with_the_plan_cut_and_said_so() {
        let plan = plan_text(100);
        assert!(plan.len() > 3 * GITHUB_BODY_LIMIT, "the plan must not fit");
        let text = body(&proposal(100), "15m", &plan).unwrap();
        let n = text.chars().count();
        assert!(n <= GITHUB_BODY_LIMIT, "{n} characters");
        assert!(
            n > GITHUB_BODY_LIMIT / 2,
            "the plan was cut more than needed: {n}"
        );
        let p = parse(&text);
        assert_eq!(p.tables, vec![(101, 5), (101, 7)]);
        assert!(p.strong_before_details);
        assert_eq!(p.code.len(), 1);
        let kept = p.code[0].lines().count();
        assert!(kept > 10 && plan.starts_with(p.code[0].trim_end()));
        assert!(
            p.strong
                .iter()
                .any(|s| s.contains(&format!("first {kept} of {} lines", plan.lines().count()))),
            "{:?}",
            p.strong
        );
        // Everything after the plan is still there.
        assert!(text.contains("### Gates") && text.contains("### Next"));
        assert!(text.contains("efs-dr gate failover --after-apply"));
    }

    #[test]
    fn the_body_of_a_forget_says_what_is_forgotten_and_that_nothing_is_destroyed() {
        let address =
            "module.us_east_1__us_west_2.aws_efs_replication_configuration.forward[\"pair-000\"]";
        let mut p = proposal(1);
        p.operation = Operation::Failover { unplanned: true };
        p.plan = PlanCounts {
            forget: 1,
            ..PlanCounts::default()
        };
        p.commands.apply = "terraform -chdir=terraform apply -refresh=false".into();
        p.pairs[0].step = Step::ForgetForward;
        p.pairs[0].route = vec![ReviewedStep {
            stage: Stage::Apply,
            step: Step::ForgetForward,
            gate_only: false,
            actions: vec![
                Action::StateRm {
                    address: address.into(),
                },
                Action::Gate {
                    gate: Gate::NoReplication {
                        roles: vec![Role::B],
                        writable: Role::B,
                    },
                },
            ],
        }];
        let text = body(&p, "15m", "Terraform will perform the following actions:\n").unwrap();
        let arena = Arena::new();
        let mut options = Options::default();
        options.extension.table = true;
        let root = parse_document(&arena, &text, &options);
        let texts = |kind: fn(&NodeValue) -> bool| -> Vec<String> {
            root.descendants()
                .filter(|n| kind(&n.data.borrow().value))
                .map(|n| {
                    n.descendants()
                        .filter_map(|d| match &d.data.borrow().value {
                            NodeValue::Text(t) => Some(t.to_string()),
                            NodeValue::Code(c) => Some(c.literal.clone()),
                            _ => None,
                        })
                        .collect::<String>()
                })
                .collect()
        };
        let items = texts(|v| matches!(v, NodeValue::Item(_)));
        assert!(
            items
                .iter()
                .any(|i| i.contains("pair-000") && i.contains(address)),
            "the forgotten instance is a list item: {items:?}"
        );
        let paragraphs = texts(|v| matches!(v, NodeValue::Paragraph));
        assert!(
            paragraphs
                .iter()
                .any(|p| p.starts_with("Forgotten, not destroyed.")
                    && p.contains("nothing is deleted in AWS")
                    && p.contains("-refresh=false")),
            "{paragraphs:?}"
        );
        let strong = texts(|v| matches!(v, NodeValue::Strong));
        assert!(
            strong.iter().any(|s| s.contains("1 to forget")
                && s.contains("0 to destroy")
                && s.contains("nothing is destroyed")),
            "{strong:?}"
        );
        assert!(text.contains("`terraform -chdir=terraform apply -refresh=false`"));
    }
}
