//! Pull requests and pipeline stages: efs-dr as the generator of reviewed changes that a
//! pipeline applies with plain `terraform apply`. `propose` writes the next Terraform phase
//! into the rendered root with a pull-request body (`body`) and a proposal (`proposal`);
//! `check` checks a plan somebody else made; `ci` speaks the pipelines' own formats. The
//! stages around apply are runs of the orchestrator with a scope (`dr::run::Scope`).

pub mod body;
pub mod check;
pub mod ci;
pub mod proposal;
pub mod propose;
pub mod worktree;

#[cfg(test)]
mod agreement_tests;
