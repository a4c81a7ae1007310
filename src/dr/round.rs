//! One Terraform round, built from the actions of every pair at a step: the direction each
//! pair's variable asks for, what the plan may change, what is imported first, what is removed
//! from the state, and whether the plan refreshes. The runner, `propose` and `check-plan` all
//! fold the actions through here, so what a phase may change is written down once.

use std::collections::BTreeMap;

use super::decide::Action;
use crate::render::Direction;
use crate::terraform::AllowedChange;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerraformRound {
    /// The direction variable of each pair the round changes.
    pub directions: BTreeMap<String, Direction>,
    /// What the plan may change; anything else refuses it.
    pub allowed: Vec<AllowedChange>,
    /// `import` (address, id), in the pairs' order.
    pub imports: Vec<(String, String, String)>,
    /// `state rm` (pair, address): forgotten without reading AWS.
    pub forgets: Vec<(String, String)>,
    /// False when any pair's phase plans without refresh.
    pub refresh: bool,
}

impl TerraformRound {
    /// The round of `pairs`, each with its actions at this step.
    pub fn from_actions<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a [Action])>) -> Self {
        let mut round = TerraformRound {
            directions: BTreeMap::new(),
            allowed: Vec::new(),
            imports: Vec::new(),
            forgets: Vec::new(),
            refresh: true,
        };
        for (pair, actions) in pairs {
            for action in actions {
                match action {
                    Action::SetDirection { direction } => {
                        round.directions.insert(pair.to_string(), *direction);
                    }
                    Action::Import { address, id } => {
                        round
                            .imports
                            .push((pair.to_string(), address.clone(), id.clone()))
                    }
                    Action::StateRm { address } => {
                        round.forgets.push((pair.to_string(), address.clone()))
                    }
                    Action::PlanCheckApply { allowed, refresh } => {
                        round.allowed.extend(allowed.iter().cloned());
                        round.refresh &= *refresh;
                    }
                    Action::Confirm { .. }
                    | Action::Sdk { .. }
                    | Action::Hook { .. }
                    | Action::Gate { .. } => {}
                }
            }
        }
        round
    }

    /// The direction variables of the whole root: this round's, and `others` (what AWS and
    /// the state hold) for every pair it does not change, so that their plan is empty.
    pub fn directions_over(
        &self,
        others: &BTreeMap<String, Direction>,
    ) -> BTreeMap<String, Direction> {
        let mut all = others.clone();
        all.extend(self.directions.iter().map(|(p, d)| (p.clone(), *d)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terraform::ChangeKind;

    #[test]
    fn a_round_folds_every_pairs_actions_and_plans_without_refresh_when_any_phase_says_so() {
        let a = vec![
            Action::SetDirection {
                direction: Direction::Reverse,
            },
            Action::Import {
                address: "x.reverse[\"a\"]".into(),
                id: "fs-00000000000000001".into(),
            },
            Action::PlanCheckApply {
                allowed: vec![AllowedChange {
                    address: "x.reverse[\"a\"]".into(),
                    kind: ChangeKind::Create,
                }],
                refresh: true,
            },
        ];
        let b = vec![
            Action::StateRm {
                address: "x.forward[\"b\"]".into(),
            },
            Action::PlanCheckApply {
                allowed: vec![],
                refresh: false,
            },
        ];
        let round = TerraformRound::from_actions([("a", a.as_slice()), ("b", b.as_slice())]);
        assert_eq!(round.directions.len(), 1);
        assert_eq!(round.imports.len(), 1);
        assert_eq!(round.forgets, vec![("b".into(), "x.forward[\"b\"]".into())]);
        assert_eq!(round.allowed.len(), 1);
        assert!(!round.refresh);
        let others = BTreeMap::from([
            ("a".to_string(), Direction::Forward),
            ("c".to_string(), Direction::Forward),
        ]);
        let all = round.directions_over(&others);
        assert_eq!(all["a"], Direction::Reverse);
        assert_eq!(all["c"], Direction::Forward);
    }
}
