//! A fleet: many pairs in one run, and one pair failing does not hold the others back.

use efs_dr::dr::events::EventKind;

use crate::dr::{drill, A_REGION, B_REGION};

#[tokio::test(flavor = "multi_thread")]
async fn twenty_pairs_fail_over_and_back_while_one_pair_in_error_is_left_behind() {
    let names: Vec<String> = (1..=20).map(|i| format!("p{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let d = drill(&refs).await;
    d.ok(&["init", "--yes"]).await;
    let broken = &d.pairs[6];
    d.ts.control
        .set_replication_status(&broken.a, "ERROR", Some("broken by a test"))
        .await
        .unwrap();

    let over = d.efs_dr(&["failover", "--yes"]).await;
    assert_eq!(over.code, 2, "{}\n{}", over.stdout, over.stderr);
    let m = over.finished_message();
    assert!(m.contains("pair p07") && m.contains("ERROR"), "{m}");
    assert!(m.contains("the other pair(s) completed"), "{m}");
    // The 19 others are failed over: B writable, nothing replicating into them.
    let in_b = d.replications(B_REGION).await;
    assert_eq!(
        in_b.len(),
        1,
        "only the broken pair still replicates: {in_b:?}"
    );
    assert_eq!(in_b[0].0, broken.a);
    for p in d.pairs.iter().filter(|p| p.name != "p07") {
        assert_eq!(d.protection(B_REGION, &p.b).await, "ENABLED", "{}", p.name);
    }
    // Running it again finishes only what is left, which is still refused.
    let again = d.efs_dr(&["failover", "--yes"]).await;
    assert_eq!(again.code, 2);
    assert!(
        again.steps_started().iter().all(|s| s.starts_with("p07:")),
        "{:?}",
        again.steps_started()
    );

    for p in d.pairs.iter().filter(|p| p.name != "p07") {
        d.ts.control
            .write_file(&p.b, &format!("{}/b-fleet.txt", p.name), b"on B")
            .await
            .unwrap();
    }
    let back = d.efs_dr(&["failback", "--yes", "--writes-stopped"]).await;
    assert_eq!(back.code, 2, "{}\n{}", back.stdout, back.stderr);
    assert!(back.finished_message().contains("pair p07"));
    // The 19 are home with B's writes; the broken one was never touched.
    for p in d.pairs.iter().filter(|p| p.name != "p07") {
        let on_a = d.ts.control.digest(&p.a).await.unwrap();
        let on_b = d.ts.control.digest(&p.b).await.unwrap();
        assert_eq!(on_a, on_b, "{}", p.name);
        assert!(on_a.keys().any(|k| k.contains("b-fleet")), "{}", p.name);
    }
    let in_b = d.replications(B_REGION).await;
    assert_eq!(in_b.len(), 20);
    // A gate poll costs O(regions), not O(pairs): for 20 pairs in two regions, at most one
    // DescribeReplicationConfigurations, DescribeFileSystems and GetMetricData per region.
    for run in [&over, &back] {
        let calls: Vec<u64> = run
            .events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::GatePolled { sdk_calls, .. } => Some(sdk_calls),
                _ => None,
            })
            .collect();
        assert!(!calls.is_empty());
        assert!(
            calls.iter().all(|c| (1..=6).contains(c)),
            "SDK calls per gate poll: {calls:?}"
        );
    }
    assert_eq!(d.protection(A_REGION, &broken.a).await, "ENABLED");
}
