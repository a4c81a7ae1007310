use std::time::Duration;

use super::*;

fn holder() -> Holder {
    Holder {
        id: "runner-1/42/1".into(),
        pid: 42,
        host: "runner-1".into(),
        hostname: "ip-10-0-0-1".into(),
        command: "efs-dr failback".into(),
        operation: "failback".into(),
        pairs: vec!["home".into(), "media".into()],
        since: "2026-12-02T01:00:00Z".into(),
        heartbeat: "2026-12-02T01:05:00Z".into(),
    }
}

const LEASE: &str = "s3://state/efs-dr.tfstate.efs-dr-lease";

#[test]
fn a_held_lease_names_its_holder_and_when_a_take_over_becomes_possible() {
    let limit = Duration::from_secs(120);
    let e = may_take_over(
        &holder(),
        Duration::from_secs(30),
        limit,
        false,
        false,
        LEASE,
    )
    .unwrap_err();
    assert!(matches!(e, LeaseError::Failed(_)));
    let text = e.to_string();
    assert!(text.contains(LEASE), "{text}");
    assert!(
        text.contains(
            "`efs-dr failback` (pid 42 on runner-1, pairs home, media, since 2026-12-02T01:00:00Z)"
        ),
        "{text}"
    );
    assert!(text.contains("last heartbeat 30s ago"), "{text}");
    assert!(
        text.contains("--take-over is allowed once its heartbeat is 2m old (in 1m 30s)"),
        "{text}"
    );

    // Past the limit, the message says the flag is what is needed.
    let e = may_take_over(
        &holder(),
        Duration::from_secs(200),
        limit,
        false,
        false,
        LEASE,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("run this again with --take-over"),
        "{}",
        e.to_string()
    );
}

#[test]
fn take_over_only_after_the_heartbeat_limit() {
    let limit = Duration::from_secs(120);
    let e = may_take_over(
        &holder(),
        Duration::from_secs(119),
        limit,
        true,
        false,
        LEASE,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("only 1m 59s old (limit 2m)"),
        "{}",
        e.to_string()
    );
    assert!(e.to_string().contains("allowed in 1s"), "{}", e.to_string());
    assert!(may_take_over(&holder(), limit, limit, true, false, LEASE).is_ok());
    assert!(may_take_over(
        &holder(),
        Duration::from_secs(3600),
        limit,
        true,
        false,
        LEASE
    )
    .is_ok());
}

#[test]
fn a_holder_whose_process_is_gone_from_this_machine_is_taken_over_at_once() {
    let limit = Duration::from_secs(120);
    let age = Duration::from_secs(3);
    // Its process is gone from this very machine: the run is dead, the same command heals.
    assert!(may_take_over(&holder(), age, limit, false, true, LEASE).is_ok());
    assert!(may_take_over(&holder(), age, limit, true, true, LEASE).is_ok());
    // Alive, or on another machine: not without the flag.
    assert!(may_take_over(&holder(), age, limit, false, false, LEASE).is_err());

    let mut me = Holder::this_run("efs-dr failover", "failover", &[]);
    assert!(!me.is_gone_from_this_host(), "this process is alive");
    me.pid = u32::MAX - 1;
    assert!(me.is_gone_from_this_host());
    me.host = "another-machine".into();
    assert!(
        !me.is_gone_from_this_host(),
        "another machine's process is never judged from here"
    );
}

#[test]
fn a_take_over_is_described_for_the_report() {
    let t = TakeOver {
        previous: holder(),
        heartbeat_age_s: 135,
        limit_s: 120,
        terraform_lock_released: Some("4b2c9a1e".into()),
    };
    assert_eq!(
        t.describe(),
        "taken over from `efs-dr failback` (pid 42 on runner-1, pairs home, media, since 2026-12-02T01:00:00Z): its last heartbeat was 2m 15s old (limit 2m); its Terraform state lock 4b2c9a1e was released"
    );
}

#[test]
fn a_holder_reads_back_what_older_runs_wrote() {
    // The lock file of runs before the lease had no id, operation, pairs or heartbeat.
    let old = r#"{"pid":7,"host":"h","command":"efs-dr init","since":"2026-11-01T00:00:00Z"}"#;
    let h: Holder = serde_json::from_str(old).unwrap();
    assert_eq!(
        h.describe(),
        "`efs-dr init` (pid 7 on h, since 2026-11-01T00:00:00Z)"
    );
    let me = Holder::this_run("efs-dr failover", "failover", &["p".into()]);
    assert_eq!(me.pid, std::process::id());
    assert!(me.id.contains(&format!("/{}/", me.pid)), "{}", me.id);
}

/// The text of every refusal of the lease an operator can meet, pinned.
#[test]
fn the_lease_refusals_read_as_operators_see_them() {
    let limit = Duration::from_secs(120);
    let shown = [
        may_take_over(
            &holder(),
            Duration::from_secs(30),
            limit,
            false,
            false,
            LEASE,
        ),
        may_take_over(
            &holder(),
            Duration::from_secs(300),
            limit,
            false,
            false,
            LEASE,
        ),
        may_take_over(
            &holder(),
            Duration::from_secs(119),
            limit,
            true,
            false,
            LEASE,
        ),
    ]
    .into_iter()
    .map(|r| r.unwrap_err().to_string())
    .collect::<Vec<_>>();
    insta::assert_snapshot!(shown.join("\n\n"));
}
