//! The pipelines' own formats: GitHub Actions workflow commands (`::error::`, `::warning::`,
//! `::group::`) and GitLab's Terraform report. Pure formatting; the CLI decides when to print.

use serde::Serialize;

use super::proposal::PlanCounts;

/// A workflow command's message: `%`, CR and LF escaped as GitHub reads them back.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error title=...::message`: an annotation on the run, multi-line message kept.
pub fn error(title: &str, message: &str) -> String {
    format!(
        "::error title={}::{}",
        escape_property(title),
        escape_data(message)
    )
}

pub fn warning(message: &str) -> String {
    format!("::warning::{}", escape_data(message))
}

pub fn notice(message: &str) -> String {
    format!("::notice::{}", escape_data(message))
}

pub fn group(name: &str) -> String {
    format!("::group::{}", escape_data(name))
}

pub const END_GROUP: &str = "::endgroup::";

/// GitLab's Terraform report (`artifacts: reports: terraform`): the plan's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GitlabReport {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    /// Left the state without being destroyed (GitLab shows the three above).
    pub forget: usize,
}

impl From<PlanCounts> for GitlabReport {
    fn from(c: PlanCounts) -> Self {
        GitlabReport {
            create: c.add,
            update: c.change,
            delete: c.destroy,
            forget: c.forget,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_escape_what_github_reads_back() {
        assert_eq!(
            error("pair app: refused", "100% sure\nnothing changed"),
            "::error title=pair app%3A refused::100%25 sure%0Anothing changed"
        );
        assert_eq!(group("gate, a"), "::group::gate, a");
        assert_eq!(
            serde_json::to_string(&GitlabReport::from(PlanCounts {
                import: 0,
                add: 1,
                change: 0,
                destroy: 2,
                forget: 1,
            }))
            .unwrap(),
            r#"{"create":1,"update":0,"delete":2,"forget":1}"#
        );
    }
}
