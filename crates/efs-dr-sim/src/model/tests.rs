//! The lifecycle rules of the simulated world, without HTTP.

use super::*;

const MIN: Millis = 60_000;
const T0: Millis = 1_800_000_000_000;

fn settings() -> SimSettings {
    SimSettings::default()
}

fn fs(w: &mut World, region: &str, token: &str) -> String {
    let s = settings();
    let id = w
        .create_file_system(
            region,
            NewFileSystem {
                creation_token: token.into(),
                ..Default::default()
            },
            &s,
        )
        .unwrap();
    w.advance(w.now + s.file_system_create_delay_ms(), &s);
    id
}

/// A world with A in us-east-1 holding one file, and B in us-west-2 with protection DISABLED.
fn pair() -> (World, String, String) {
    let s = settings();
    let mut w = World::new(7, T0);
    let a = fs(&mut w, "us-east-1", "a");
    let b = fs(&mut w, "us-west-2", "b");
    w.write_file(&a, "data/one", b"1".to_vec(), &s).unwrap();
    w.update_protection("us-west-2", &b, "DISABLED").unwrap();
    (w, a, b)
}

fn replicate(w: &mut World, a: &str, b: &str) -> Result<usize, ApiError> {
    w.create_replication(
        "us-east-1",
        a,
        vec![NewDestination {
            region: Some("us-west-2".into()),
            file_system_id: Some(b.into()),
            ..Default::default()
        }],
        &settings(),
    )
}

fn status(w: &World, region: &str, fs: &str) -> &'static str {
    w.describe_replications(region, Some(fs)).unwrap()[0]
        .status_in(region)
        .0
}

fn files(w: &World, id: &str) -> Vec<String> {
    w.file_systems[id].files.keys().cloned().collect()
}

#[test]
fn a_new_file_system_is_creating_then_available() {
    let s = settings();
    let mut w = World::new(1, T0);
    let id = w
        .create_file_system(
            "us-east-1",
            NewFileSystem {
                creation_token: "t".into(),
                ..Default::default()
            },
            &s,
        )
        .unwrap();
    assert!(id.starts_with("fs-0") && id.len() == 20, "{id}");
    assert_eq!(w.file_systems[&id].lifecycle.as_aws(), "creating");
    w.advance(T0 + s.file_system_create_delay_ms() - 1, &s);
    assert_eq!(w.file_systems[&id].lifecycle.as_aws(), "creating");
    w.advance(T0 + s.file_system_create_delay_ms(), &s);
    assert_eq!(w.file_systems[&id].lifecycle.as_aws(), "available");
    assert_eq!(w.protection_of(&w.file_systems[&id]), "ENABLED");
}

#[test]
fn a_creation_token_is_used_once_per_region() {
    let s = settings();
    let mut w = World::new(1, T0);
    let id = fs(&mut w, "us-east-1", "same");
    let e = w
        .create_file_system(
            "us-east-1",
            NewFileSystem {
                creation_token: "same".into(),
                ..Default::default()
            },
            &s,
        )
        .unwrap_err();
    assert_eq!((e.status, e.code), (409, "FileSystemAlreadyExists"));
    assert_eq!(e.extra, vec![("FileSystemId", id.clone())]);
    // Another region has its own tokens.
    assert!(w
        .create_file_system(
            "eu-west-1",
            NewFileSystem {
                creation_token: "same".into(),
                ..Default::default()
            },
            &s
        )
        .is_ok());
}

#[test]
fn an_existing_destination_needs_protection_disabled() {
    let (mut w, a, b) = pair();
    w.update_protection("us-west-2", &b, "ENABLED").unwrap();
    let e = replicate(&mut w, &a, &b).unwrap_err();
    assert_eq!(e.code, "ConflictException");
    assert!(
        e.message.contains("protection ENABLED; disable it"),
        "{}",
        e.message
    );
}

#[test]
fn replication_enables_after_the_delay_and_syncs_per_cycle() {
    let s = settings();
    let (mut w, a, b) = pair();
    replicate(&mut w, &a, &b).unwrap();
    let created = w.now;
    assert_eq!(status(&w, "us-east-1", &a), "ENABLING");
    assert_eq!(
        status(&w, "us-west-2", &b),
        "ENABLING",
        "visible from the destination too"
    );
    assert_eq!(w.protection_of(&w.file_systems[&b]), "REPLICATING");
    assert_eq!(
        w.write_file(&b, "x", vec![1], &s).unwrap_err().code,
        "ReadOnlyFileSystem"
    );

    w.advance(created + 15 * MIN - 1, &s);
    assert_eq!(status(&w, "us-east-1", &a), "ENABLING");
    w.advance(created + 15 * MIN, &s);
    assert_eq!(status(&w, "us-east-1", &a), "ENABLED");
    assert_eq!(
        w.replications[0].last_replicated, None,
        "no cycle has completed yet"
    );

    // A write during the first cycle is not part of it.
    w.advance(created + 15 * MIN + 10_000, &s);
    w.write_file(&a, "data/two", b"22".to_vec(), &s).unwrap();
    w.advance(created + 16 * MIN, &s);
    assert_eq!(w.replications[0].last_replicated, Some(created + 15 * MIN));
    assert_eq!(files(&w, &b), vec!["data/one"]);
    // The next cycle started after the write and carries it.
    w.advance(created + 17 * MIN, &s);
    assert_eq!(w.replications[0].last_replicated, Some(created + 16 * MIN));
    assert_eq!(files(&w, &b), vec!["data/one", "data/two"]);
}

#[test]
fn an_existing_destination_is_made_equal_to_the_source() {
    let s = settings();
    let (mut w, a, b) = pair();
    w.update_protection("us-west-2", &b, "ENABLED").unwrap();
    w.write_file(&b, "only-on-b", b"b".to_vec(), &s).unwrap();
    w.update_protection("us-west-2", &b, "DISABLED").unwrap();
    replicate(&mut w, &a, &b).unwrap();
    w.advance(w.now + 17 * MIN, &s);
    assert_eq!(files(&w, &b), vec!["data/one"]);
}

#[test]
fn deleting_takes_the_delay_on_both_sides_then_the_destination_is_writable() {
    let s = settings();
    let (mut w, a, b) = pair();
    replicate(&mut w, &a, &b).unwrap();
    w.advance(w.now + 16 * MIN, &s);
    w.delete_replication("us-west-2", &a, DeletionMode::AllConfigurations, &s)
        .unwrap();
    let deleted = w.now;
    assert_eq!(status(&w, "us-east-1", &a), "DELETING");
    assert_eq!(status(&w, "us-west-2", &b), "DELETING");
    assert!(
        w.check_writable(&b, &s).is_err(),
        "still read-only while deleting"
    );
    w.advance(deleted + 8 * MIN - 1, &s);
    assert_eq!(status(&w, "us-west-2", &b), "DELETING");
    w.advance(deleted + 8 * MIN, &s);
    assert_eq!(
        w.describe_replications("us-east-1", Some(&a))
            .unwrap_err()
            .code,
        "ReplicationNotFound"
    );
    assert_eq!(
        w.describe_replications("us-west-2", Some(&b))
            .unwrap_err()
            .code,
        "ReplicationNotFound"
    );
    assert_eq!(
        w.protection_of(&w.file_systems[&b]),
        "ENABLED",
        "protection re-enabled"
    );
    w.write_file(&b, "after", b"x".to_vec(), &s).unwrap();
    assert!(w.replications.is_empty());
}

#[test]
fn a_local_delete_leaves_a_stale_configuration_on_the_other_side() {
    let s = settings();
    let (mut w, a, b) = pair();
    replicate(&mut w, &a, &b).unwrap();
    w.advance(w.now + 16 * MIN, &s);
    w.set_outage("us-east-1", true);
    let e = w
        .delete_replication("us-west-2", &a, DeletionMode::AllConfigurations, &s)
        .unwrap_err();
    assert!(
        e.message.contains("LOCAL_CONFIGURATION_ONLY"),
        "{}",
        e.message
    );
    w.delete_replication("us-west-2", &a, DeletionMode::LocalConfigurationOnly, &s)
        .unwrap();
    w.advance(w.now + 8 * MIN, &s);
    assert_eq!(
        w.describe_replications("us-west-2", Some(&b))
            .unwrap_err()
            .code,
        "ReplicationNotFound"
    );
    w.write_file(&b, "new-on-b", b"b".to_vec(), &s).unwrap();
    // A's region comes back with its half of the configuration.
    w.set_outage("us-east-1", false);
    let stale = w.describe_replications("us-east-1", Some(&a)).unwrap();
    let (st, msg) = stale[0].status_in("us-east-1");
    assert_eq!(st, "ERROR");
    assert!(msg.unwrap().contains("other Region"));
    // It cannot sync and must be deleted locally.
    w.delete_replication("us-east-1", &a, DeletionMode::LocalConfigurationOnly, &s)
        .unwrap();
    w.advance(w.now + 8 * MIN, &s);
    assert!(w.replications.is_empty());
    assert_eq!(
        files(&w, &b),
        vec!["data/one", "new-on-b"],
        "B's writes survive"
    );
}

#[test]
fn a_file_system_is_in_at_most_one_configuration() {
    let s = settings();
    let (mut w, a, b) = pair();
    let c = fs(&mut w, "eu-west-1", "c");
    w.update_protection("eu-west-1", &c, "DISABLED").unwrap();
    replicate(&mut w, &a, &b).unwrap();
    let e = w
        .create_replication(
            "us-east-1",
            &a,
            vec![NewDestination {
                region: Some("eu-west-1".into()),
                file_system_id: Some(c.clone()),
                ..Default::default()
            }],
            &s,
        )
        .unwrap_err();
    assert_eq!(e.code, "ConflictException");
    // Nor may a destination become a source.
    let e = w
        .create_replication(
            "us-west-2",
            &b,
            vec![NewDestination {
                region: Some("eu-west-1".into()),
                file_system_id: Some(c),
                ..Default::default()
            }],
            &s,
        )
        .unwrap_err();
    assert_eq!(e.code, "ConflictException");
}

#[test]
fn a_file_system_in_a_replication_cannot_be_deleted_nor_its_destination_protection_changed() {
    let s = settings();
    let (mut w, a, b) = pair();
    replicate(&mut w, &a, &b).unwrap();
    assert_eq!(
        w.delete_file_system("us-east-1", &a, &s).unwrap_err().code,
        "FileSystemInUse"
    );
    assert_eq!(
        w.update_protection("us-west-2", &b, "ENABLED")
            .unwrap_err()
            .code,
        "ReplicationAlreadyExists"
    );
}

#[test]
fn a_new_destination_is_created_in_the_other_region() {
    let s = settings();
    let (mut w, a, _) = pair();
    let i = w
        .create_replication(
            "us-east-1",
            &a,
            vec![NewDestination {
                region: Some("eu-west-1".into()),
                ..Default::default()
            }],
            &s,
        )
        .unwrap();
    let dest = w.replications[i].destination_id.clone();
    assert_eq!(w.file_systems[&dest].region, "eu-west-1");
    assert_eq!(w.protection_of(&w.file_systems[&dest]), "REPLICATING");
}

#[test]
fn paused_and_outages_stop_syncing_until_they_end() {
    let s = settings();
    let (mut w, a, b) = pair();
    replicate(&mut w, &a, &b).unwrap();
    w.advance(w.now + 16 * MIN, &s);
    let synced = w.replications[0].last_replicated.unwrap();
    w.set_replication_status(&a, "PAUSED", Some("role missing".into()))
        .unwrap();
    assert_eq!(status(&w, "us-east-1", &a), "PAUSED");
    w.advance(w.now + 10 * MIN, &s);
    assert_eq!(w.replications[0].last_replicated, Some(synced));
    w.set_replication_status(&a, "ENABLED", None).unwrap();
    w.set_outage("us-west-2", true);
    w.advance(w.now + 10 * MIN, &s);
    assert_eq!(w.replications[0].last_replicated, Some(synced));
    w.set_outage("us-west-2", false);
    let back = w.now;
    w.advance(back + MIN, &s);
    assert_eq!(w.replications[0].last_replicated, Some(back));
}

#[test]
fn protection_disabled_is_read_only_unless_configured_otherwise() {
    let (mut w, _, b) = pair();
    let strict = settings();
    assert!(w.write_file(&b, "x", vec![], &strict).is_err());
    let lenient = SimSettings {
        disabled_protection_read_only: false,
        ..settings()
    };
    assert!(w.write_file(&b, "x", vec![], &lenient).is_ok());
}

#[test]
fn injected_faults_fail_the_next_calls_only() {
    let mut w = World::new(1, T0);
    let r = "us-east-1";
    w.add_fault(
        None,
        "DeleteReplicationConfiguration",
        "ThrottlingException",
        2,
    )
    .unwrap();
    assert!(w.take_fault(r, "DescribeFileSystems").is_none());
    assert_eq!(
        w.take_fault(r, "DeleteReplicationConfiguration")
            .unwrap()
            .code,
        "ThrottlingException"
    );
    assert_eq!(
        w.take_fault("us-west-2", "DeleteReplicationConfiguration")
            .unwrap()
            .code,
        "ThrottlingException"
    );
    assert!(w.take_fault(r, "DeleteReplicationConfiguration").is_none());
    assert!(w.add_fault(None, "X", "Boom", 1).is_err());
    // A regional fault: only that region's calls fail.
    w.add_fault(
        Some("us-west-2"),
        "GetMetricData",
        "AccessDeniedException",
        1,
    )
    .unwrap();
    assert!(w.take_fault(r, "GetMetricData").is_none());
    assert_eq!(
        w.take_fault("us-west-2", "GetMetricData").unwrap().code,
        "AccessDeniedException"
    );
    assert!(w.take_fault("us-west-2", "GetMetricData").is_none());
    // The second call fails, not the first.
    w.add_fault_after(None, "GetMetricData", "ThrottlingException", 1, 1)
        .unwrap();
    assert!(w.take_fault(r, "GetMetricData").is_none());
    assert!(w.take_fault(r, "GetMetricData").is_some());
    assert!(w.take_fault(r, "GetMetricData").is_none());
}

#[test]
fn one_mount_target_per_availability_zone() {
    let s = settings();
    let mut w = World::new(1, T0);
    let a = fs(&mut w, "us-east-1", "a");
    let mt = w
        .create_mount_target("us-east-1", &a, "subnet-0000000a", Default::default(), &s)
        .unwrap();
    assert_eq!(w.mount_targets[&mt].availability_zone_name, "us-east-1e");
    assert_eq!(w.mount_targets[&mt].lifecycle.as_aws(), "creating");
    let e = w
        .create_mount_target("us-east-1", &a, "subnet-00000004", Default::default(), &s)
        .unwrap_err();
    assert_eq!(e.code, "MountTargetConflict", "4 and a are both zone e");
    assert!(w
        .create_mount_target("us-east-1", &a, "subnet-00000001", Default::default(), &s)
        .is_ok());
    assert_eq!(
        w.create_mount_target("us-east-1", &a, "vpc-1", Default::default(), &s)
            .unwrap_err()
            .code,
        "SubnetNotFound"
    );
    w.advance(w.now + s.mount_target_delay_ms(), &s);
    assert_eq!(w.mount_targets[&mt].lifecycle.as_aws(), "available");
    assert_eq!(
        w.delete_file_system("us-east-1", &a, &s).unwrap_err().code,
        "FileSystemInUse"
    );
    w.delete_mount_target("us-east-1", &mt, &s).unwrap();
    w.advance(w.now + s.mount_target_delay_ms(), &s);
    assert!(!w.mount_targets.contains_key(&mt));
}

#[test]
fn ids_are_reproducible_from_the_seed() {
    let mut a = World::new(42, T0);
    let mut b = World::new(42, T0);
    let s = settings();
    let x = a
        .create_file_system(
            "us-east-1",
            NewFileSystem {
                creation_token: "t".into(),
                ..Default::default()
            },
            &s,
        )
        .unwrap();
    let y = b
        .create_file_system(
            "us-east-1",
            NewFileSystem {
                creation_token: "t".into(),
                ..Default::default()
            },
            &s,
        )
        .unwrap();
    assert_eq!(x, y);
    assert!(efs_dr_ids::FileSystemId::parse(&x).is_ok());
}

#[test]
fn a_mount_target_has_the_addresses_of_its_ip_address_type() {
    use super::MountTargetAddresses;
    let s = settings();
    let mut w = World::new(1, T0);
    let a = fs(&mut w, "us-east-1", "a");
    w.advance(w.now + s.file_system_create_delay_ms(), &s);
    let ask = |kind: Option<&str>, v4: Option<&str>| MountTargetAddresses {
        ip_address_type: kind.map(str::to_string),
        ipv4: v4.map(str::to_string),
        ipv6: None,
    };
    let v4 = w
        .create_mount_target("us-east-1", &a, "subnet-00000000", ask(None, None), &s)
        .unwrap();
    let dual = w
        .create_mount_target(
            "us-east-1",
            &a,
            "subnet-00000001",
            ask(Some("DUAL_STACK"), None),
            &s,
        )
        .unwrap();
    let v6 = w
        .create_mount_target(
            "us-east-1",
            &a,
            "subnet-00000002",
            ask(Some("IPV6_ONLY"), None),
            &s,
        )
        .unwrap();
    let families = |id: &str| {
        let m = &w.mount_targets[id];
        (m.ip_address.is_some(), m.ipv6_address.is_some())
    };
    assert_eq!(families(&v4), (true, false));
    assert_eq!(families(&dual), (true, true));
    assert_eq!(families(&v6), (false, true));
    for (kind, v4) in [(Some("IPV6_ONLY"), Some("10.0.0.9")), (Some("IPV5"), None)] {
        let e = w
            .create_mount_target("us-east-1", &a, "subnet-00000003", ask(kind, v4), &s)
            .unwrap_err();
        assert_eq!(e.code, "BadRequest", "{kind:?}");
    }
}

#[test]
fn update_file_system_sets_the_throughput_botocore_allows() {
    let s = settings();
    let mut w = World::new(1, T0);
    let a = fs(&mut w, "us-east-1", "a");
    w.advance(w.now + s.file_system_create_delay_ms(), &s);
    w.update_throughput("us-east-1", &a, Some("provisioned".into()), Some(256.0))
        .unwrap();
    assert_eq!(w.file_systems[&a].throughput_mode, "provisioned");
    assert_eq!(w.file_systems[&a].provisioned_throughput, Some(256.0));
    w.update_throughput("us-east-1", &a, Some("elastic".into()), None)
        .unwrap();
    assert_eq!(w.file_systems[&a].provisioned_throughput, None);
    let e = w
        .update_throughput("us-east-1", &a, Some("provisioned".into()), None)
        .unwrap_err();
    assert_eq!(e.code, "BadRequest");
    assert!(w
        .update_throughput("us-west-2", &a, Some("bursting".into()), None)
        .is_err());
}
