//! The least-privilege IAM policy of a configuration: exactly the actions efs-dr, Terraform and
//! the AWS provider call for its pairs, scoped to the pairs' file systems wherever the action
//! takes a resource, and to their regions. The action names and the resource types each accepts
//! follow AWS's Service Authorization Reference ("Actions, resources, and condition keys for
//! Amazon Elastic File System / Amazon CloudWatch / AWS Backup / AWS STS / Amazon S3 / IAM").
//! Pure: a configuration in, a policy document out.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::config::{Config, Pair};

/// Which operations the policy must allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Operations {
    Init,
    Failover,
    Failback,
    All,
    /// `efs-dr doctor` on a schedule: reads only.
    Doctor,
}

impl Operations {
    fn creates(self) -> bool {
        matches!(
            self,
            Operations::Init | Operations::Failback | Operations::All
        )
    }
    fn deletes(self) -> bool {
        !matches!(self, Operations::Init | Operations::Doctor)
    }
    fn protects(self) -> bool {
        // init too: a replication into an existing file system needs its protection DISABLED.
        self != Operations::Doctor
    }
    fn backs_up(self) -> bool {
        matches!(self, Operations::Failback | Operations::All)
    }
    /// Writes the state and the run lease (doctor only reads them).
    fn writes_state(self) -> bool {
        self != Operations::Doctor
    }
}

fn fs_arn(region: &str, id: &str) -> String {
    format!("arn:aws:elasticfilesystem:{region}:*:file-system/{id}")
}

/// The policy document for `pairs` of `config` and `ops`; each statement has a `Sid` that
/// says what it is for (README: "Permissions").
pub fn policy(config: &Config, pairs: &[Pair], ops: Operations) -> Value {
    let regions: BTreeSet<&str> = pairs
        .iter()
        .flat_map(|p| [p.primary.region.as_str(), p.secondary.region.as_str()])
        .collect();
    // A replication is created and deleted by its source file system's id, in the source
    // region and (the provider deletes there first) in the destination region: every id of a
    // pair in both of its regions.
    let replication_arns: BTreeSet<String> = pairs
        .iter()
        .flat_map(|p| {
            let ids = [
                p.primary.file_system_id.as_str(),
                p.secondary.file_system_id.as_str(),
            ];
            let regions = [p.primary.region.as_str(), p.secondary.region.as_str()];
            ids.into_iter()
                .flat_map(move |id| regions.into_iter().map(move |r| fs_arn(r, id)))
        })
        .collect();
    let own_arns: BTreeSet<String> = pairs
        .iter()
        .flat_map(|p| [&p.primary, &p.secondary])
        .map(|s| fs_arn(s.region.as_str(), s.file_system_id.as_str()))
        .collect();
    let region_list: Vec<&str> = regions.iter().copied().collect();
    let mut statements = vec![json!({
        "Sid": "EfsDescribe",
        "Effect": "Allow",
        "Action": [
            "elasticfilesystem:DescribeFileSystems",
            "elasticfilesystem:DescribeMountTargets",
            "elasticfilesystem:DescribeReplicationConfigurations"
        ],
        "Resource": regions
            .iter()
            .map(|r| format!("arn:aws:elasticfilesystem:{r}:*:file-system/*"))
            .collect::<Vec<_>>()
    })];
    if ops.creates() {
        statements.push(json!({
            "Sid": "EfsCreateReplication",
            "Effect": "Allow",
            "Action": ["elasticfilesystem:CreateReplicationConfiguration"],
            "Resource": replication_arns
        }));
        // EFS creates its service-linked role with the first replication of an account.
        statements.push(json!({
            "Sid": "EfsServiceLinkedRole",
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole"],
            "Resource": "arn:aws:iam::*:role/aws-service-role/elasticfilesystem.amazonaws.com/AWSServiceRoleForAmazonElasticFileSystem",
            "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticfilesystem.amazonaws.com"}}
        }));
    }
    if ops.deletes() {
        statements.push(json!({
            "Sid": "EfsDeleteReplication",
            "Effect": "Allow",
            "Action": ["elasticfilesystem:DeleteReplicationConfiguration"],
            "Resource": replication_arns
        }));
    }
    if ops.protects() {
        statements.push(json!({
            "Sid": "EfsProtection",
            "Effect": "Allow",
            "Action": ["elasticfilesystem:UpdateFileSystemProtection"],
            "Resource": own_arns
        }));
    }
    // CloudWatch's GetMetricData takes no resource: the regions scope it.
    statements.push(json!({
        "Sid": "CloudWatchMetrics",
        "Effect": "Allow",
        "Action": ["cloudwatch:GetMetricData"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:RequestedRegion": region_list}}
    }));
    // The lag alarms (an `alarms` block): the module's, all named "efs-dr <pair> ...", in the
    // pairs' regions; the provider reads an alarm before it creates it.
    let alarmed: BTreeSet<&str> = pairs
        .iter()
        .filter(|p| p.alarms.is_some())
        .flat_map(|p| [p.primary.region.as_str(), p.secondary.region.as_str()])
        .collect();
    if !alarmed.is_empty() {
        // Made, read and deleted by name: the module's only.
        if ops != Operations::Doctor {
            let arns: Vec<String> = alarmed
                .iter()
                .map(|r| {
                    format!(
                        "arn:aws:cloudwatch:{r}:*:alarm:{}*",
                        crate::render::ALARM_NAME_PREFIX
                    )
                })
                .collect();
            statements.push(json!({
                "Sid": "LagAlarms",
                "Effect": "Allow",
                // The provider lists an alarm's tags after every create, read and update.
                "Action": [
                    "cloudwatch:PutMetricAlarm",
                    "cloudwatch:DeleteAlarms",
                    "cloudwatch:ListTagsForResource"
                ],
                "Resource": arns
            }));
        }
        // Read by listing (efs-dr pages through the region's alarms; the provider reads one by
        // name): IAM evaluates DescribeAlarms against the region's alarms, `alarm:*`, so a
        // name prefix would deny it. It reads alarm definitions only.
        let all: Vec<String> = alarmed
            .iter()
            .map(|r| format!("arn:aws:cloudwatch:{r}:*:alarm:*"))
            .collect();
        statements.push(json!({
            "Sid": "LagAlarmsList",
            "Effect": "Allow",
            "Action": ["cloudwatch:DescribeAlarms"],
            "Resource": all
        }));
    }
    // The provider's STS GetCallerIdentity at configure needs no permission (the Service
    // Authorization Reference lists none for it): no statement.
    if ops == Operations::Doctor {
        let vaults: BTreeSet<String> = pairs
            .iter()
            .filter_map(|p| {
                p.backup.as_ref().map(|b| {
                    format!(
                        "arn:aws:backup:{}:*:backup-vault:{}",
                        p.primary.region, b.vault
                    )
                })
            })
            .collect();
        if !vaults.is_empty() {
            statements.push(json!({
                "Sid": "BackupVaultRead",
                "Effect": "Allow",
                "Action": ["backup:DescribeBackupVault"],
                "Resource": vaults
            }));
        }
    }
    if ops.backs_up() {
        let backups: Vec<(&Pair, &crate::config::BackupSettings)> = pairs
            .iter()
            .filter_map(|p| p.backup.as_ref().map(|b| (p, b)))
            .collect();
        if !backups.is_empty() {
            let vaults: BTreeSet<String> = backups
                .iter()
                .map(|(p, b)| {
                    format!(
                        "arn:aws:backup:{}:*:backup-vault:{}",
                        p.primary.region, b.vault
                    )
                })
                .collect();
            let a_regions: BTreeSet<&str> = backups
                .iter()
                .map(|(p, _)| p.primary.region.as_str())
                .collect();
            let roles: BTreeSet<&str> = backups.iter().map(|(_, b)| b.role_arn.as_str()).collect();
            statements.push(json!({
                "Sid": "BackupOfA",
                "Effect": "Allow",
                "Action": ["backup:StartBackupJob", "backup:DescribeBackupVault"],
                "Resource": vaults
            }));
            statements.push(json!({
                "Sid": "BackupJobs",
                "Effect": "Allow",
                "Action": ["backup:ListBackupJobs", "backup:DescribeBackupJob"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": a_regions}}
            }));
            statements.push(json!({
                "Sid": "BackupPassRole",
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": roles,
                "Condition": {"StringEquals": {"iam:PassedToService": "backup.amazonaws.com"}}
            }));
        }
    }
    if let Some(b) = &config.terraform.s3_backend {
        let keys: Vec<String> = ["", ".tflock", ".efs-dr-lease", ".efs-dr-hooks"]
            .iter()
            .map(|suffix| format!("arn:aws:s3:::{}/{}{suffix}", b.bucket, b.key))
            .collect();
        let actions: &[&str] = if ops.writes_state() {
            &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        } else {
            &["s3:GetObject"]
        };
        statements.push(json!({
            "Sid": "StateObjects",
            "Effect": "Allow",
            "Action": actions,
            "Resource": keys
        }));
        statements.push(json!({
            "Sid": "StateBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": format!("arn:aws:s3:::{}", b.bucket)
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn example() -> Config {
        Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("efs-dr.hcl")).unwrap()
    }

    #[test]
    fn the_policy_scopes_each_action_to_the_pairs_and_their_regions() {
        let c = example();
        let p = policy(&c, &c.pairs, Operations::All);
        let sids: Vec<&str> = p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Sid"].as_str().unwrap())
            .collect();
        assert!(sids.contains(&"EfsCreateReplication") && sids.contains(&"EfsProtection"));
        let create = &p["Statement"][1]["Resource"];
        assert!(
            create
                .to_string()
                .contains("arn:aws:elasticfilesystem:us-west-2:*:file-system/fs-0123456789abcdef0"),
            "the source id in the destination region too: {create}"
        );
        let init = policy(&c, &c.pairs, Operations::Init).to_string();
        assert!(!init.contains("DeleteReplicationConfiguration"), "{init}");
        assert!(!init.contains("backup:"), "{init}");
    }
}
