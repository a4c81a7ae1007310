//! The simulator's AWS Backup API, driven by the real aws-sdk-backup client: a job's lifecycle
//! in simulated time, idempotency, recovery points that keep the files of the moment the job
//! started, and the errors of botocore's model.

use aws_sdk_backup::error::ProvideErrorMetadata;
use aws_sdk_backup::types::BackupJobState;
use efs_dr_testkit::*;

const EAST: &str = "us-east-1";
const ROLE: &str = "arn:aws:iam::123456789012:role/efs-dr-backup";

fn arn(fs: &str) -> String {
    format!("arn:aws:elasticfilesystem:{EAST}:123456789012:file-system/{fs}")
}

#[tokio::test]
async fn a_backup_job_runs_in_simulated_time_and_keeps_the_files_of_its_start() {
    let ts = start(1.0).await;
    let fs = file_system(&ts, EAST, "backed-up").await;
    ts.control
        .write_file(&fs, "before.txt", b"kept")
        .await
        .unwrap();
    let backup = backup(&ts.url, EAST);
    backup
        .create_backup_vault()
        .backup_vault_name("efs-dr")
        .send()
        .await
        .unwrap();
    let start = |token: &'static str| {
        backup
            .start_backup_job()
            .backup_vault_name("efs-dr")
            .resource_arn(arn(&fs))
            .iam_role_arn(ROLE)
            .idempotency_token(token)
            .send()
    };
    let job = start("failback-1").await.unwrap();
    let again = start("failback-1").await.unwrap();
    assert_eq!(
        job.backup_job_id(),
        again.backup_job_id(),
        "same token, same job"
    );
    let id = job.backup_job_id().unwrap().to_string();
    let point = job.recovery_point_arn().unwrap().to_string();
    ts.control
        .write_file(&fs, "after.txt", b"later")
        .await
        .unwrap();

    let state = |id: String| {
        let backup = backup.clone();
        async move {
            backup
                .describe_backup_job()
                .backup_job_id(id)
                .send()
                .await
                .unwrap()
                .state()
                .cloned()
        }
    };
    assert_eq!(state(id.clone()).await, Some(BackupJobState::Created));
    ts.control.advance(90.0).await.unwrap();
    assert_eq!(state(id.clone()).await, Some(BackupJobState::Running));
    ts.control.advance(300.0).await.unwrap();
    assert_eq!(state(id.clone()).await, Some(BackupJobState::Completed));

    let files = ts.control.recovery_point_digest(&point).await.unwrap();
    assert!(files.contains_key("before.txt"));
    assert!(
        !files.contains_key("after.txt"),
        "written after the job started"
    );
    let listed = backup
        .list_backup_jobs()
        .by_resource_arn(arn(&fs))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.backup_jobs().len(), 1);
    assert_eq!(listed.backup_jobs()[0].backup_job_id(), Some(id.as_str()));
}

#[tokio::test]
async fn backup_errors_follow_the_model_and_injected_failures_fail_the_job() {
    let ts = start(1.0).await;
    let fs = file_system(&ts, EAST, "errors").await;
    let backup = backup(&ts.url, EAST);
    let err = backup
        .start_backup_job()
        .backup_vault_name("missing")
        .resource_arn(arn(&fs))
        .iam_role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));

    ts.control.refuse_backup_role(ROLE, true).await.unwrap();
    let err = backup
        .start_backup_job()
        .backup_vault_name("Default")
        .resource_arn(arn(&fs))
        .iam_role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert!(err.message().unwrap_or_default().contains(ROLE));
    ts.control.refuse_backup_role(ROLE, false).await.unwrap();

    ts.control.fail_next_backup_jobs(1).await.unwrap();
    let job = backup
        .start_backup_job()
        .backup_vault_name("Default")
        .resource_arn(arn(&fs))
        .iam_role_arn(ROLE)
        .send()
        .await
        .unwrap();
    ts.control.advance(600.0).await.unwrap();
    let d = backup
        .describe_backup_job()
        .backup_job_id(job.backup_job_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(d.state(), Some(&BackupJobState::Failed));
    assert!(d.status_message().unwrap_or_default().contains("injected"));
    let none = ts
        .control
        .recovery_point_digest(job.recovery_point_arn().unwrap())
        .await;
    assert!(none.is_err(), "a failed job keeps no recovery point");
}
