//! The pull-request body of a proposal: GitHub-flavoured Markdown from a tera template, kept
//! under GitHub's 65,535-character limit by cutting the full plan (with a note saying so).

use std::collections::BTreeMap;

use serde::Serialize;

use super::proposal::Proposal;
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

fn groups(
    p: &Proposal,
    items: impl Fn(&super::proposal::ProposedPair) -> &Vec<String>,
) -> Vec<Group> {
    let mut by: BTreeMap<Vec<String>, Vec<&str>> = BTreeMap::new();
    for pair in &p.pairs {
        by.entry(items(pair).clone()).or_default().push(&pair.pair);
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
) -> Result<String, String> {
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
    ctx.insert("rpo_note", &rpo_note);
    ctx.insert("pairs", &rows);
    ctx.insert("unchanged", &p.unchanged);
    ctx.insert("proposed_at", p.proposed_at.as_deref().unwrap_or("unknown"));
    ctx.insert("plan_line", &p.plan.line());
    ctx.insert("plan_text", plan_text.trim_end());
    ctx.insert("plan_note", &plan_note);
    ctx.insert("before_groups", &groups(p, |x| &x.before_apply));
    ctx.insert("after_groups", &groups(p, |x| &x.after_apply));
    ctx.insert("commands", &p.commands);
    ctx.insert("operation", p.operation.name());
    ctx.insert("version", env!("CARGO_PKG_VERSION"));
    tera::Tera::one_off(TEMPLATE, &ctx, false).map_err(|e| format!("{e:?}"))
}

/// The body, at most `GITHUB_BODY_LIMIT - MARGIN` characters: the full plan is cut at a line
/// when it does not fit, and the body says so.
pub fn body(p: &Proposal, max_lag: &str, plan_text: &str) -> Result<String, String> {
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
