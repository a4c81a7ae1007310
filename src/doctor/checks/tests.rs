//! Each check's verdicts, from views and read results alone.

use std::time::Duration;

use super::*;
use crate::aws::{LifeCycleState, MountTargetInfo};
use crate::dr::view::tests::*;
use crate::dr::view::PairView;

const MAX_LAG: Duration = Duration::from_secs(900);

fn view(s: crate::dr::view::Snapshot) -> PairView {
    PairView::derive(&pair(), &s)
}

fn home() -> PairView {
    let f = repl(A, B, "ENABLED", Some(10));
    view(snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 70))
}

fn mt(zone: &str, ipv4: bool, ipv6: bool) -> MountTargetInfo {
    MountTargetInfo {
        id: format!("fsmt-{zone}"),
        availability_zone: Some(zone.to_string()),
        life_cycle_state: LifeCycleState::Available,
        ipv4,
        ipv6,
    }
}

#[test]
fn the_replication_in_force_must_be_enabled_synced_and_recent() {
    assert_eq!(replication(&home(), MAX_LAG).verdict, Verdict::Ok);
    let paused = {
        let mut f = repl(A, B, "PAUSED", Some(10));
        f.status_message = Some("the service-linked role is missing".into());
        view(snap("ENABLED", "REPLICATING", vec![f.clone()], vec![f], 70))
    };
    let c = replication(&paused, MAX_LAG);
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(
        c.text.contains("PAUSED: the service-linked role"),
        "{}",
        c.text
    );
    let old = {
        let f = repl(A, B, "ENABLED", Some(10));
        view(snap(
            "ENABLED",
            "REPLICATING",
            vec![f.clone()],
            vec![f],
            10 + 3600,
        ))
    };
    assert!(replication(&old, MAX_LAG)
        .text
        .contains("more than max_lag"));
    let failed_over = view(snap("ENABLED", "ENABLED", vec![], vec![], 70));
    let c = replication(&failed_over, MAX_LAG);
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.next.unwrap().contains("efs-dr"));
    let a_down = {
        let f = repl(A, B, "ENABLED", Some(10));
        view(down(
            snap("ENABLED", "REPLICATING", vec![], vec![f], 70),
            "us-east-1",
        ))
    };
    let c = replication(&a_down, MAX_LAG);
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.next.unwrap().contains("--unplanned"));
    let nothing = view(down(
        down(snap("ENABLED", "ENABLED", vec![], vec![], 70), "us-east-1"),
        "us-west-2",
    ));
    assert_eq!(replication(&nothing, MAX_LAG).verdict, Verdict::Unknown);
}

#[test]
fn a_lag_beyond_max_lag_in_the_last_day_fails_even_when_caught_up() {
    let h = home();
    assert_eq!(
        lag_history(&h, &Ok(Some(Duration::from_secs(60))), MAX_LAG).verdict,
        Verdict::Ok
    );
    let c = lag_history(&h, &Ok(Some(Duration::from_secs(1800))), MAX_LAG);
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.text.contains("30m"), "{}", c.text);
    assert_eq!(lag_history(&h, &Ok(None), MAX_LAG).verdict, Verdict::Warn);
    assert_eq!(
        lag_history(&h, &Err("AccessDenied".into()), MAX_LAG).verdict,
        Verdict::Unknown
    );
}

#[test]
fn b_must_be_mountable_where_the_application_runs_with_as_families() {
    let p = pair();
    let two = |ipv6| {
        Ok(vec![
            mt("us-east-1a", true, ipv6),
            mt("us-east-1b", true, ipv6),
        ])
    };
    let b_two = |ipv6| {
        Ok(vec![
            mt("us-west-2a", true, ipv6),
            mt("us-west-2b", true, ipv6),
        ])
    };
    assert_eq!(
        mount_targets(&p, &two(false), &b_two(false)).verdict,
        Verdict::Ok
    );
    let none = mount_targets(&p, &two(false), &Ok(vec![]));
    assert_eq!(none.verdict, Verdict::Fail);
    assert!(none.text.contains("nothing to mount"), "{}", none.text);
    assert!(none.next.unwrap().contains("create-mount-target"));
    let fewer = mount_targets(&p, &two(false), &Ok(vec![mt("us-west-2a", true, false)]));
    assert_eq!(fewer.verdict, Verdict::Fail);
    assert!(fewer.text.contains("1 zone(s)"), "{}", fewer.text);
    let deleting = Ok(vec![
        mt("us-west-2a", true, false),
        MountTargetInfo {
            life_cycle_state: LifeCycleState::Deleting,
            ..mt("us-west-2b", true, false)
        },
    ]);
    assert_eq!(
        mount_targets(&p, &two(false), &deleting).verdict,
        Verdict::Fail
    );
    let families = mount_targets(&p, &two(true), &b_two(false));
    assert_eq!(families.verdict, Verdict::Fail);
    assert!(families.text.contains("IPv6"), "{}", families.text);
    let mut named = pair();
    named.secondary.zones = vec!["us-west-2a".into(), "us-west-2c".into()];
    let c = mount_targets(&named, &two(false), &b_two(false));
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.text.contains("B in us-west-2c"), "{}", c.text);
    assert_eq!(
        mount_targets(&p, &Err("throttled".into()), &b_two(false)).verdict,
        Verdict::Unknown
    );
}

#[test]
fn b_gives_at_least_as_throughput_and_says_what_differs() {
    let with = |a: (&str, Option<f64>), b: (&str, Option<f64>), b_encrypted: bool| {
        let mut v = home();
        let fa = v.a.file_system.as_mut().unwrap();
        fa.throughput_mode = a.0.into();
        fa.provisioned_mibps = a.1;
        fa.encrypted = true;
        let fb = v.b.file_system.as_mut().unwrap();
        fb.throughput_mode = b.0.into();
        fb.provisioned_mibps = b.1;
        fb.encrypted = b_encrypted;
        capacity(&v)
    };
    assert_eq!(
        with(
            ("provisioned", Some(1024.0)),
            ("provisioned", Some(1024.0)),
            true
        )
        .verdict,
        Verdict::Ok
    );
    assert_eq!(
        with(("provisioned", Some(1024.0)), ("elastic", None), true).verdict,
        Verdict::Ok
    );
    let low = with(("provisioned", Some(1024.0)), ("bursting", None), true);
    assert_eq!(low.verdict, Verdict::Fail);
    assert!(low
        .next
        .unwrap()
        .contains("--provisioned-throughput-in-mibps 1024"));
    assert_eq!(
        with(("elastic", None), ("provisioned", Some(4096.0)), true).verdict,
        Verdict::Fail
    );
    assert_eq!(
        with(("bursting", None), ("bursting", None), false).verdict,
        Verdict::Warn
    );
}

#[test]
fn the_destination_is_replicating_and_the_vault_exists() {
    assert_eq!(protection(&home()).verdict, Verdict::Ok);
    let f = repl(A, B, "ENABLED", Some(10));
    let unprotected = view(snap("ENABLED", "ENABLED", vec![f.clone()], vec![f], 70));
    assert_eq!(protection(&unprotected).verdict, Verdict::Fail);
    let p = pair();
    assert!(
        backup_vault(&p, None).is_none(),
        "no backup block, no check"
    );
    let mut with = pair();
    with.backup = Some(crate::config::BackupSettings {
        vault: "efs-dr".into(),
        role_arn: "arn:aws:iam::123456789012:role/b".into(),
    });
    assert_eq!(
        backup_vault(&with, Some(&Ok(true))).unwrap().verdict,
        Verdict::Ok
    );
    let missing = backup_vault(&with, Some(&Ok(false))).unwrap();
    assert_eq!(missing.verdict, Verdict::Fail);
    assert!(missing.next.unwrap().contains("create-backup-vault"));
}
