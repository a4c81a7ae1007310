//! The simulator's EFS API, driven by the real aws-sdk-efs client.

use aws_sdk_efs::operation::create_file_system::CreateFileSystemError;
use aws_sdk_efs::operation::delete_file_system::DeleteFileSystemError;
use aws_sdk_efs::operation::describe_file_systems::DescribeFileSystemsError;
use aws_sdk_efs::operation::describe_replication_configurations::DescribeReplicationConfigurationsError;
use aws_sdk_efs::operation::update_file_system_protection::UpdateFileSystemProtectionError;
use aws_sdk_efs::types::{
    DeletionMode, DestinationToCreate, LifeCycleState, ReplicationOverwriteProtection,
    ReplicationStatus, Tag,
};
use efs_dr_testkit::*;

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

async fn disable_protection(ts: &TestSim, region: &str, fs: &str) {
    efs(&ts.url, region)
        .update_file_system_protection()
        .file_system_id(fs)
        .replication_overwrite_protection(ReplicationOverwriteProtection::Disabled)
        .send()
        .await
        .expect("UpdateFileSystemProtection");
}

async fn replicate(ts: &TestSim, a: &str, b: &str) {
    efs(&ts.url, EAST)
        .create_replication_configuration()
        .source_file_system_id(a)
        .destinations(
            DestinationToCreate::builder()
                .region(WEST)
                .file_system_id(b)
                .build(),
        )
        .send()
        .await
        .expect("CreateReplicationConfiguration");
}

async fn destination(ts: &TestSim, region: &str, fs: &str) -> aws_sdk_efs::types::Destination {
    efs(&ts.url, region)
        .describe_replication_configurations()
        .file_system_id(fs)
        .send()
        .await
        .expect("DescribeReplicationConfigurations")
        .replications()[0]
        .destinations()[0]
        .clone()
}

async fn protection(ts: &TestSim, region: &str, fs: &str) -> ReplicationOverwriteProtection {
    efs(&ts.url, region)
        .describe_file_systems()
        .file_system_id(fs)
        .send()
        .await
        .unwrap()
        .file_systems()[0]
        .file_system_protection()
        .unwrap()
        .replication_overwrite_protection()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_systems_are_created_described_tagged_and_deleted() {
    let ts = start(1.0).await;
    let client = efs(&ts.url, EAST);
    let created = client
        .create_file_system()
        .creation_token("home")
        .tags(tag("Name", "shared-home"))
        .send()
        .await
        .unwrap();
    let id = created.file_system_id().to_string();
    assert_eq!(created.life_cycle_state(), &LifeCycleState::Creating);
    assert_eq!(created.name(), Some("shared-home"));
    assert_eq!(created.owner_id(), "123456789012");
    assert!(created
        .file_system_arn()
        .unwrap()
        .ends_with(&format!(":file-system/{id}")));
    ts.control.advance(10.0).await.unwrap();

    let by_id = client
        .describe_file_systems()
        .file_system_id(&id)
        .send()
        .await
        .unwrap();
    let fs = &by_id.file_systems()[0];
    assert_eq!(fs.life_cycle_state(), &LifeCycleState::Available);
    assert_eq!(
        fs.file_system_protection()
            .unwrap()
            .replication_overwrite_protection(),
        Some(&ReplicationOverwriteProtection::Enabled)
    );
    let by_token = client
        .describe_file_systems()
        .creation_token("home")
        .send()
        .await
        .unwrap();
    assert_eq!(by_token.file_systems()[0].file_system_id(), id);

    // The same token again: the typed error carries the existing id.
    let err = client
        .create_file_system()
        .creation_token("home")
        .send()
        .await
        .unwrap_err();
    match err.into_service_error() {
        CreateFileSystemError::FileSystemAlreadyExists(e) => assert_eq!(e.file_system_id(), id),
        other => panic!("expected FileSystemAlreadyExists, got {other:?}"),
    }

    // Regions are separate: the region comes from the request's signature.
    let err = efs(&ts.url, WEST)
        .describe_file_systems()
        .file_system_id(&id)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        DescribeFileSystemsError::FileSystemNotFound(_)
    ));

    client
        .tag_resource()
        .resource_id(&id)
        .tags(tag("team", "storage"))
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags_for_resource()
        .resource_id(&id)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = tags.tags().iter().map(|t| t.key()).collect();
    assert_eq!(keys, vec!["Name", "team"]);
    client
        .untag_resource()
        .resource_id(&id)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    assert_eq!(
        client
            .list_tags_for_resource()
            .resource_id(&id)
            .send()
            .await
            .unwrap()
            .tags()
            .len(),
        1
    );

    client
        .delete_file_system()
        .file_system_id(&id)
        .send()
        .await
        .unwrap();
    ts.control.advance(10.0).await.unwrap();
    let err = client
        .describe_file_systems()
        .file_system_id(&id)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        DescribeFileSystemsError::FileSystemNotFound(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_file_systems_paginates() {
    let ts = start(1.0).await;
    let client = efs(&ts.url, EAST);
    for i in 0..7 {
        client
            .create_file_system()
            .creation_token(format!("t{i}"))
            .send()
            .await
            .unwrap();
    }
    efs(&ts.url, WEST)
        .create_file_system()
        .creation_token("elsewhere")
        .send()
        .await
        .unwrap();
    let first = client
        .describe_file_systems()
        .max_items(3)
        .send()
        .await
        .unwrap();
    assert_eq!(first.file_systems().len(), 3);
    assert!(first.next_marker().is_some());
    let all: Vec<_> = client
        .describe_file_systems()
        .max_items(3)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        7,
        "every file system of the region, none of another"
    );
    let mut ids: Vec<_> = all.iter().map(|f| f.file_system_id().to_string()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mount_targets_have_a_lifecycle_and_one_per_zone() {
    let ts = start(1.0).await;
    let client = efs(&ts.url, EAST);
    let fs = file_system(&ts, EAST, "mt").await;
    let mt = client
        .create_mount_target()
        .file_system_id(&fs)
        .subnet_id("subnet-00000000")
        .send()
        .await
        .unwrap();
    assert_eq!(mt.life_cycle_state(), &LifeCycleState::Creating);
    assert_eq!(mt.availability_zone_name(), Some("us-east-1a"));
    let err = client
        .create_mount_target()
        .file_system_id(&fs)
        .subnet_id("subnet-00000006")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("MountTargetConflict")
    );
    ts.control.advance(90.0).await.unwrap();
    let listed = client
        .describe_mount_targets()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.mount_targets()[0].life_cycle_state(),
        &LifeCycleState::Available
    );
    let d = client
        .describe_file_systems()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap();
    assert_eq!(d.file_systems()[0].number_of_mount_targets(), 1);

    let err = client
        .delete_file_system()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        DeleteFileSystemError::FileSystemInUse(_)
    ));
    client
        .delete_mount_target()
        .mount_target_id(mt.mount_target_id())
        .send()
        .await
        .unwrap();
    ts.control.advance(90.0).await.unwrap();
    assert!(client
        .describe_mount_targets()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap()
        .mount_targets()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_lifecycle_create_enable_sync_delete() {
    let ts = start(1.0).await;
    let a = file_system(&ts, EAST, "a").await;
    let b = file_system(&ts, WEST, "b").await;
    ts.control
        .write_file(&a, "home/report.txt", b"quarterly")
        .await
        .unwrap();

    // An existing destination needs its protection disabled first.
    let err = efs(&ts.url, EAST)
        .create_replication_configuration()
        .source_file_system_id(&a)
        .destinations(
            DestinationToCreate::builder()
                .region(WEST)
                .file_system_id(&b)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("ConflictException")
    );
    disable_protection(&ts, WEST, &b).await;
    replicate(&ts, &a, &b).await;

    let d = destination(&ts, EAST, &a).await;
    assert_eq!(d.status(), &ReplicationStatus::Enabling);
    assert_eq!(d.region(), WEST);
    assert_eq!(d.file_system_id(), b);
    assert!(d.last_replicated_timestamp().is_none());
    // Seen from the destination region, by the destination id, too.
    assert_eq!(
        destination(&ts, WEST, &b).await.status(),
        &ReplicationStatus::Enabling
    );
    assert_eq!(
        protection(&ts, WEST, &b).await,
        ReplicationOverwriteProtection::Replicating
    );
    let refused = ts.control.write_file(&b, "x", b"no").await.unwrap_err();
    assert_eq!(refused.status(), Some(409), "the destination is read-only");
    let err = efs(&ts.url, WEST)
        .update_file_system_protection()
        .file_system_id(&b)
        .replication_overwrite_protection(ReplicationOverwriteProtection::Enabled)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        UpdateFileSystemProtectionError::ReplicationAlreadyExists(_)
    ));

    // A file system in a replication cannot be deleted, nor join a second configuration.
    let err = efs(&ts.url, EAST)
        .delete_file_system()
        .file_system_id(&a)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        DeleteFileSystemError::FileSystemInUse(_)
    ));
    let err = efs(&ts.url, EAST)
        .create_replication_configuration()
        .source_file_system_id(&a)
        .destinations(DestinationToCreate::builder().region("eu-west-1").build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("ConflictException")
    );

    ts.control.advance(15.0 * 60.0).await.unwrap();
    assert_eq!(
        destination(&ts, EAST, &a).await.status(),
        &ReplicationStatus::Enabled
    );
    let enabled_at = ts.control.clock().await.unwrap().now_ms;
    ts.control.advance(60.0).await.unwrap();
    let d = destination(&ts, WEST, &b).await;
    let last = d.last_replicated_timestamp().expect("a cycle completed");
    let last_ms = last.to_millis().unwrap();
    assert!(
        (enabled_at - 1000..=enabled_at).contains(&last_ms),
        "LastReplicatedTimestamp {last_ms} is the start of the first cycle (~{enabled_at})"
    );
    assert_eq!(
        ts.control.digest(&b).await.unwrap(),
        ts.control.digest(&a).await.unwrap()
    );

    // Delete from the destination region: both sides go DELETING, then away.
    efs(&ts.url, WEST)
        .delete_replication_configuration()
        .source_file_system_id(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(
        destination(&ts, EAST, &a).await.status(),
        &ReplicationStatus::Deleting
    );
    assert_eq!(
        destination(&ts, WEST, &b).await.status(),
        &ReplicationStatus::Deleting
    );
    ts.control.advance(8.0 * 60.0).await.unwrap();
    for (region, fs) in [(EAST, &a), (WEST, &b)] {
        let err = efs(&ts.url, region)
            .describe_replication_configurations()
            .file_system_id(fs)
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(
                err.into_service_error(),
                DescribeReplicationConfigurationsError::ReplicationNotFound(_)
            ),
            "{region}"
        );
    }
    assert_eq!(
        protection(&ts, WEST, &b).await,
        ReplicationOverwriteProtection::Enabled
    );
    ts.control
        .write_file(&b, "after-failover", b"ok")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_only_delete_while_the_source_region_is_down() {
    let ts = start(1.0).await;
    let a = file_system(&ts, EAST, "a").await;
    let b = file_system(&ts, WEST, "b").await;
    disable_protection(&ts, WEST, &b).await;
    replicate(&ts, &a, &b).await;
    ts.control.advance(16.0 * 60.0).await.unwrap();

    ts.control.set_outage(EAST, true).await.unwrap();
    // An unreachable region: the connection is dropped, the SDK reports a dispatch failure.
    let err = efs(&ts.url, EAST)
        .describe_file_systems()
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, aws_sdk_efs::error::SdkError::DispatchFailure(_)),
        "expected a dispatch failure, got {err:?}"
    );
    let west = efs(&ts.url, WEST);
    let err = west
        .delete_replication_configuration()
        .source_file_system_id(&a)
        .send()
        .await
        .unwrap_err();
    assert!(err
        .into_service_error()
        .to_string()
        .contains("LOCAL_CONFIGURATION_ONLY"));
    west.delete_replication_configuration()
        .source_file_system_id(&a)
        .deletion_mode(DeletionMode::LocalConfigurationOnly)
        .send()
        .await
        .unwrap();
    ts.control.advance(8.0 * 60.0).await.unwrap();
    assert_eq!(
        protection(&ts, WEST, &b).await,
        ReplicationOverwriteProtection::Enabled
    );

    ts.control.set_outage(EAST, false).await.unwrap();
    let stale = destination(&ts, EAST, &a).await;
    assert_eq!(stale.status(), &ReplicationStatus::Error);
    assert!(stale.status_message().unwrap().contains("other Region"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_configurations_paginate_per_region() {
    let ts = start(1.0).await;
    let mut sources = Vec::new();
    for i in 0..3 {
        let a = file_system(&ts, EAST, &format!("a{i}")).await;
        let b = file_system(&ts, WEST, &format!("b{i}")).await;
        disable_protection(&ts, WEST, &b).await;
        replicate(&ts, &a, &b).await;
        sources.push(a);
    }
    for region in [EAST, WEST] {
        let all: Vec<_> = efs(&ts.url, region)
            .describe_replication_configurations()
            .max_results(2)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap();
        let ids: Vec<String> = all
            .iter()
            .map(|r| r.source_file_system_id().to_string())
            .collect();
        assert_eq!(ids, sources, "{region}");
    }
    let none = efs(&ts.url, "eu-west-1")
        .describe_replication_configurations()
        .send()
        .await
        .unwrap();
    assert!(none.replications().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_reach_the_sdk_as_typed_retryable_errors() {
    let ts = start(1.0).await;
    let client = efs(&ts.url, EAST);
    // Two throttles: the SDK's standard retry (3 attempts) absorbs them.
    ts.control
        .inject_fault("DescribeFileSystems", "ThrottlingException", 2)
        .await
        .unwrap();
    client
        .describe_file_systems()
        .send()
        .await
        .expect("third attempt succeeds");
    assert!(
        ts.control.pending_faults().await.unwrap().is_empty(),
        "both faults were used"
    );

    // More failures than attempts: the caller sees the typed error.
    ts.control
        .inject_fault("DescribeFileSystems", "ThrottlingException", 3)
        .await
        .unwrap();
    let err = client.describe_file_systems().send().await.unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("ThrottlingException")
    );

    ts.control
        .inject_fault("DeleteReplicationConfiguration", "InternalServerError", 3)
        .await
        .unwrap();
    let err = client
        .delete_replication_configuration()
        .source_file_system_id("fs-0123456789abcdef0")
        .send()
        .await
        .unwrap_err();
    let raw = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(raw, Some(500));
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("InternalServerError")
    );
    // Faults are per operation: others were unaffected.
    client.describe_file_systems().send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_error_and_paused_states_are_reported() {
    let ts = start(1.0).await;
    let a = file_system(&ts, EAST, "a").await;
    let b = file_system(&ts, WEST, "b").await;
    disable_protection(&ts, WEST, &b).await;
    replicate(&ts, &a, &b).await;
    ts.control.advance(16.0 * 60.0).await.unwrap();
    ts.control
        .set_replication_status(&a, "PAUSED", Some("The IAM role cannot be assumed"))
        .await
        .unwrap();
    let d = destination(&ts, WEST, &b).await;
    assert_eq!(d.status(), &ReplicationStatus::Paused);
    assert_eq!(d.status_message(), Some("The IAM role cannot be assumed"));
    let before = d.last_replicated_timestamp().cloned();
    ts.control.advance(5.0 * 60.0).await.unwrap();
    assert_eq!(
        destination(&ts, WEST, &b)
            .await
            .last_replicated_timestamp()
            .cloned(),
        before
    );
    ts.control
        .set_replication_status(&a, "ERROR", Some("unrecoverable"))
        .await
        .unwrap();
    assert_eq!(
        destination(&ts, EAST, &a).await.status(),
        &ReplicationStatus::Error
    );
    let bad = ts
        .control
        .set_replication_status(&a, "BROKEN", None)
        .await
        .unwrap_err();
    assert_eq!(bad.status(), Some(400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_follows_the_time_scale() {
    // 600 simulated seconds per real second: a 60 s cycle takes 0.1 s of wall time.
    let ts = start_with(efs_dr_sim::SimOptions {
        time_scale: 600.0,
        seed: Some(3),
        settings: efs_dr_sim::SimSettings {
            replication_enable_delay: std::time::Duration::from_secs(60),
            ..settings()
        },
        ..Default::default()
    })
    .await;
    let a = file_system(&ts, EAST, "a").await;
    let b = file_system(&ts, WEST, "b").await;
    disable_protection(&ts, WEST, &b).await;
    ts.control.write_file(&a, "f", b"1").await.unwrap();
    replicate(&ts, &a, &b).await;
    let synced = eventually(
        std::time::Duration::from_secs(20),
        "a completed sync",
        || async {
            destination(&ts, EAST, &a)
                .await
                .last_replicated_timestamp()
                .cloned()
        },
    )
    .await;
    let clock = ts.control.clock().await.unwrap();
    assert!(synced.to_millis().unwrap() <= clock.now_ms);
    assert_eq!(clock.time_scale, 600.0);
    assert_eq!(ts.control.list_files(&b).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replication_can_create_its_destination() {
    let ts = start(1.0).await;
    let a = file_system(&ts, EAST, "a").await;
    let out = efs(&ts.url, EAST)
        .create_replication_configuration()
        .source_file_system_id(&a)
        .destinations(
            DestinationToCreate::builder()
                .region("eu-central-1")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let dest = out.destinations()[0].file_system_id().to_string();
    assert_ne!(dest, a);
    let fs = efs(&ts.url, "eu-central-1")
        .describe_file_systems()
        .file_system_id(&dest)
        .send()
        .await
        .unwrap();
    assert_eq!(
        fs.file_systems()[0]
            .file_system_protection()
            .unwrap()
            .replication_overwrite_protection(),
        Some(&ReplicationOverwriteProtection::Replicating)
    );
    // Bad input is a typed validation error.
    let err = efs(&ts.url, EAST)
        .create_replication_configuration()
        .source_file_system_id(&a)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_validation_exception());
}
