use std::path::Path;
use std::time::Duration;

use super::*;

const GOOD: &str = r#"
terraform {
  dir    = "infra/dr"
  binary = "tofu"
}

pair "shared-home" {
  primary {
    region         = "us-east-1"
    file_system_id = "fs-0123456789abcdef0"
  }
  secondary {
    region         = "us-west-2"
    file_system_id = "fs-0fedcba9876543210"
  }
}

pair "media" {
  primary {
    region         = "eu-west-1"
    file_system_id = "fs-01234567"
  }
  secondary {
    region         = "eu-central-1"
    file_system_id = "fs-89abcdef"
  }
}

gates {
  poll_interval       = "5s"
  replication_timeout = "30m"
  max_lag             = "15m"
  quiesce_window      = "2m"
}
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("efs-dr.hcl"))
}

/// The one issue of a config that must have exactly one.
fn only_issue(text: &str) -> ConfigIssue {
    let err = parse(text).expect_err("config should be rejected");
    assert_eq!(err.issues.len(), 1, "expected one issue, got: {err}");
    err.issues.into_iter().next().unwrap()
}

fn pair_with(primary: &str, secondary: &str) -> String {
    format!("pair \"p\" {{\n  primary {{\n{primary}\n  }}\n  secondary {{\n{secondary}\n  }}\n}}\n")
}

const A: &str = "    region = \"us-east-1\"\n    file_system_id = \"fs-0123456789abcdef0\"";
const B: &str = "    region = \"us-west-2\"\n    file_system_id = \"fs-0fedcba9876543210\"";

#[test]
fn a_good_file_parses_into_the_model() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.terraform.dir, Path::new("infra/dr"));
    assert_eq!(c.terraform.binary, "tofu");
    assert_eq!(c.terraform.lock_timeout, Duration::from_secs(60));
    assert_eq!(c.pairs.len(), 2);
    assert_eq!(c.pairs[0].name, "shared-home");
    assert_eq!(c.pairs[0].primary.region.as_str(), "us-east-1");
    assert_eq!(
        c.pairs[0].secondary.file_system_id.as_str(),
        "fs-0fedcba9876543210"
    );
    assert_eq!(c.pairs[1].primary.file_system_id.as_str(), "fs-01234567");
    assert_eq!(c.gates.poll_interval, Duration::from_secs(5));
    assert_eq!(c.gates.replication_timeout, Duration::from_secs(1800));
    assert_eq!(c.gates.max_lag, Duration::from_secs(900));
    assert_eq!(c.gates.quiesce_window, Duration::from_secs(120));
}

#[test]
fn defaults_apply_when_blocks_are_absent() {
    let c = parse(&pair_with(A, B)).unwrap();
    assert_eq!(c.terraform.dir, Path::new("terraform"));
    assert_eq!(c.terraform.binary, "terraform");
    assert_eq!(c.gates.quiesce_window, Duration::from_secs(120));
    assert_eq!(
        c.terraform_dir(),
        Path::new("terraform"),
        "relative to the config's folder"
    );
}

#[test]
fn terraform_dir_is_relative_to_the_config_file() {
    let c = Config::parse(&pair_with(A, B), Path::new("/etc/dr/efs-dr.hcl")).unwrap();
    assert_eq!(c.terraform_dir(), Path::new("/etc/dr/terraform"));
}

#[test]
fn syntax_errors_have_line_and_column() {
    let i = only_issue("pair \"p\" {\n  primary {\n    region = \n  }\n}\n");
    assert!(i.line.is_some() && i.column.is_some(), "{i:?}");
    assert!(i.problem.contains("not valid HCL"), "{}", i.problem);
}

#[test]
fn a_typo_is_answered_with_the_key_it_is_near_and_problems_come_in_file_order() {
    let text = format!(
        "gates {{\n  pol_interval = \"5s\"\n}}\n{}\ngate {{}}\n",
        pair_with(&format!("{A}\n    file_sytem = \"x\""), B)
    );
    let err = parse(&text).expect_err("rejected");
    let problems: Vec<&str> = err.issues.iter().map(|i| i.problem.as_str()).collect();
    assert!(
        problems[0].contains("did you mean \"poll_interval\"?"),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("\"file_sytem\", did you mean \"file_system_id\"?"))
            || problems.iter().any(|p| p.contains("file_sytem")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("unknown block \"gate\", did you mean \"gates\"?")),
        "{problems:#?}"
    );
    let lines: Vec<Option<usize>> = err.issues.iter().map(|i| i.line).collect();
    let mut sorted = lines.clone();
    sorted.sort_by_key(|l| (l.is_none(), *l));
    assert_eq!(lines, sorted, "{err}");
    // Far from every key: no guess.
    let i = only_issue(&pair_with(&format!("{A}\n    throughput = \"x\""), B));
    assert!(!i.problem.contains("did you mean"), "{}", i.problem);
}

#[test]
fn unknown_keys_and_blocks_are_named_with_their_place() {
    let text = pair_with(&format!("{A}\n    zone = \"a\""), B);
    let i = only_issue(&text);
    assert_eq!(i.field, "pair \"p\" > primary > zone");
    assert!(i.problem.contains("unknown key"), "{}", i.problem);
    assert!(
        i.problem.contains("region, file_system_id"),
        "{}",
        i.problem
    );
    assert_eq!(i.line, Some(5));
    assert_eq!(i.column, Some(5));

    let i = only_issue(&format!("{}\nrestore {{}}\n", pair_with(A, B)));
    assert!(
        i.problem.contains("unknown block \"restore\""),
        "{}",
        i.problem
    );

    let i = only_issue(&format!(
        "{}\ngates {{\n  max_rpo = \"5m\"\n}}\n",
        pair_with(A, B)
    ));
    assert_eq!(i.field, "gates > max_rpo");
    assert!(
        i.problem.contains("max_lag"),
        "lists the known keys: {}",
        i.problem
    );
}

#[test]
fn missing_keys_and_blocks_are_reported_with_an_example() {
    let i = only_issue(&pair_with("    region = \"us-east-1\"", B));
    assert_eq!(i.field, "pair \"p\" > primary > file_system_id");
    assert!(i.problem.contains("missing"));
    assert!(i
        .example
        .as_deref()
        .unwrap()
        .contains("file_system_id = \"fs-"));

    let i = only_issue(&format!("pair \"p\" {{\n  primary {{\n{A}\n  }}\n}}\n"));
    assert_eq!(i.field, "pair \"p\" > secondary");
    assert!(
        i.problem.contains("secondary block is missing"),
        "{}",
        i.problem
    );

    let i = only_issue("gates {}\n");
    assert!(i.problem.contains("no pair"), "{}", i.problem);
}

#[test]
fn duplicate_pair_names_are_refused() {
    let text = format!(
        "{}{}",
        pair_with(A, B),
        pair_with(
            "    region = \"eu-west-1\"\n    file_system_id = \"fs-01234567\"",
            "    region = \"eu-central-1\"\n    file_system_id = \"fs-89abcdef\""
        )
    );
    let i = only_issue(&text);
    assert!(
        i.problem.contains("already used on line 1"),
        "{}",
        i.problem
    );
    assert_eq!(i.line, Some(11), "the second pair block starts on line 11");
}

#[test]
fn bad_file_system_ids_are_refused_with_the_reason() {
    for (id, why) in [
        ("fs-123", "8 or 17"),
        ("fs-0123456789ABCDEF0", "uppercase"),
        ("fs-0123456g", "hexadecimal"),
        ("0123456789abcdef0", "does not start"),
    ] {
        let text = pair_with(
            &format!("    region = \"us-east-1\"\n    file_system_id = \"{id}\""),
            B,
        );
        let i = only_issue(&text);
        assert_eq!(i.field, "pair \"p\" > primary > file_system_id");
        assert!(i.problem.contains(why), "{id}: {}", i.problem);
        assert_eq!((i.line, i.column), (Some(4), Some(22)), "{id}");
        assert_eq!(
            i.example.as_deref(),
            Some("file_system_id = \"fs-0123456789abcdef0\"")
        );
    }
}

#[test]
fn bad_regions_are_refused() {
    let text = pair_with(
        A,
        "    region = \"us-west-2a\"\n    file_system_id = \"fs-0fedcba9876543210\"",
    );
    let i = only_issue(&text);
    assert_eq!(i.field, "pair \"p\" > secondary > region");
    assert!(
        i.problem.contains("did you mean \"us-west-2\""),
        "{}",
        i.problem
    );
    // A typo the shape check let through: the real list of regions catches it.
    let text = pair_with(
        A,
        "    region = \"us-wset-2\"\n    file_system_id = \"fs-0fedcba9876543210\"",
    );
    let i = only_issue(&text);
    assert!(
        i.problem.contains("did you mean \"us-west-2\""),
        "{}",
        i.problem
    );
}

#[test]
fn a_pair_in_one_region_is_refused() {
    let text = pair_with(
        A,
        "    region = \"us-east-1\"\n    file_system_id = \"fs-0fedcba9876543210\"",
    );
    let i = only_issue(&text);
    assert!(i.problem.contains("both in us-east-1"), "{}", i.problem);
}

#[test]
fn a_file_system_in_two_pairs_is_refused() {
    let text = format!(
        "{}pair \"q\" {{\n  primary {{\n    region = \"eu-west-1\"\n    file_system_id = \"fs-01234567\"\n  }}\n  secondary {{\n{B}\n  }}\n}}\n",
        pair_with(A, B)
    );
    let i = only_issue(&text);
    assert_eq!(i.field, "pair \"q\"");
    assert!(
        i.problem
            .contains("fs-0fedcba9876543210 is already in pair \"p\""),
        "{}",
        i.problem
    );
}

#[test]
fn durations_must_parse_and_be_positive() {
    let base = pair_with(A, B);
    let i = only_issue(&format!(
        "{base}gates {{\n  max_lag = \"15 minutes-ish\"\n}}\n"
    ));
    assert_eq!(i.field, "gates > max_lag");
    assert!(i.problem.contains("not a duration"), "{}", i.problem);
    assert_eq!(i.example.as_deref(), Some("max_lag = \"15m\""));

    let i = only_issue(&format!("{base}gates {{\n  poll_interval = \"0s\"\n}}\n"));
    assert!(i.problem.contains("longer than zero"), "{}", i.problem);

    let i = only_issue(&format!("{base}gates {{\n  poll_interval = 5\n}}\n"));
    assert!(i.problem.contains("quoted string"), "{}", i.problem);

    let i = only_issue(&format!(
        "{base}gates {{\n  poll_interval = \"1h\"\n  replication_timeout = \"30m\"\n}}\n"
    ));
    assert!(
        i.problem.contains("shorter than replication_timeout"),
        "{}",
        i.problem
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = pair_with(
        "    region = \"nowhere\"\n    file_system_id = \"fs-1\"",
        "    region = \"us-west-2\"",
    );
    let err = parse(&text).unwrap_err();
    assert_eq!(err.issues.len(), 3, "{err}");
    let shown = err.to_string();
    assert!(shown.starts_with("efs-dr.hcl has 3 problems:"), "{shown}");
    assert!(
        shown.contains("efs-dr.hcl:3:14: pair \"p\" > primary > region"),
        "{shown}"
    );
}

#[test]
fn pair_selection_names_the_known_pairs() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.select_pairs(&[]).unwrap().len(), 2);
    assert_eq!(c.select_pairs(&["media".into()]).unwrap()[0].name, "media");
    let e = c.select_pairs(&["nope".into()]).unwrap_err();
    assert!(e.to_string().contains("shared-home, media"), "{e}");
    assert_eq!(e.known, ["shared-home", "media"]);
}

#[test]
fn a_missing_file_says_what_to_do() {
    let e = Config::load(Path::new("/nonexistent/efs-dr.hcl")).unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains("--config"), "{shown}");
}

#[test]
fn a_key_set_twice_is_refused_where_it_is() {
    let text = pair_with(&format!("{A}\n    region = \"us-east-2\""), B);
    let i = only_issue(&text);
    assert!(i.problem.contains("redefined attribute"), "{}", i.problem);
    assert_eq!(i.line, Some(5));
}

/// The exact text operators read for the usual mistakes.
#[test]
fn config_errors_read_as_operators_see_them() {
    let cases = [
        ("syntax", "pair \"p\" {\n  primary {\n".to_string()),
        (
            "several problems",
            pair_with(
                "    region = \"nowhere\"\n    file_system_id = \"fs-1\"",
                "    region = \"us-west-2\"",
            ),
        ),
        (
            "unknown key",
            format!("{}gates {{\n  poll = \"5s\"\n}}\n", pair_with(A, B)),
        ),
        (
            "one region",
            pair_with(
                A,
                &A.replace("fs-0123456789abcdef0", "fs-0fedcba9876543210"),
            ),
        ),
        (
            "bad duration",
            format!("{}gates {{\n  max_lag = \"soon\"\n}}\n", pair_with(A, B)),
        ),
    ];
    let shown: Vec<String> = cases
        .iter()
        .map(|(what, text)| format!("## {what}\n{}", parse(text).unwrap_err()))
        .collect();
    insta::assert_snapshot!(shown.join("\n\n"));
}

#[test]
fn a_backup_block_applies_to_every_pair_unless_a_pair_has_its_own() {
    let text = format!(
        "{GOOD}\nbackup {{\n  vault = \"efs-dr\"\n  role_arn = \"arn:aws:iam::123456789012:role/efs-dr-backup\"\n}}\n"
    )
    .replace(
        "pair \"media\" {\n",
        "pair \"media\" {\n  backup {\n    vault = \"media-vault\"\n    role_arn = \"arn:aws:iam::123456789012:role/media\"\n  }\n",
    );
    let c = Config::parse(&text, Path::new("efs-dr.hcl")).unwrap();
    let backup = |name: &str| {
        c.pairs
            .iter()
            .find(|p| p.name == name)
            .unwrap()
            .backup
            .clone()
            .unwrap()
    };
    assert_eq!(backup("shared-home").vault, "efs-dr");
    assert_eq!(backup("media").vault, "media-vault");
    assert!(
        Config::parse(GOOD, Path::new("efs-dr.hcl")).unwrap().pairs[0]
            .backup
            .is_none()
    );
    let bad =
        format!("{GOOD}\nbackup {{\n  vault = \"efs-dr\"\n  role_arn = \"efs-dr-backup\"\n}}\n");
    let e = Config::parse(&bad, Path::new("efs-dr.hcl")).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("backup > role_arn") || text.contains("role_arn"),
        "{text}"
    );
    assert!(text.contains("not an IAM role ARN"), "{text}");
}

/// Every example an error prints is valid HCL: fed back through the parser, it parses.
#[test]
fn every_example_in_an_error_parses() {
    let bad = [
        String::new(),
        "pair {}\n".to_string(),
        "pair \"a\" \"b\" {}\n".to_string(),
        "pair \"x y\" {}\n".to_string(),
        "pair \"p\" {}\n".to_string(),
        pair_with(A, "    region = \"us-wset-2\"\n    file_system_id = \"fs-12\""),
        pair_with(A, "    region = \"us-east-1\"\n    file_system_id = \"fs-0fedcba9876543210\""),
        format!("{}\ngates {{\n  poll_interval = \"1h\"\n  replication_timeout = \"5m\"\n  max_lag = \"soon\"\n}}\n", pair_with(A, B)),
        format!("terraform {{\n  dir = 3\n  binary = \"\"\n  backend {{}}\n}}\n{}", pair_with(A, B)),
        format!("{}\nbackup {{\n  vault = \"x\"\n  role_arn = \"nope\"\n}}\n", pair_with(A, B)),
        format!("{}\nbackup {{}}\n", pair_with(A, B)),
        format!("terraform {{\n  backend \"s3\" {{\n    region = \"us-east-1\"\n  }}\n}}\n{}", pair_with(A, B)),
        format!("terraform {{\n  backend \"s3\" {{\n    bucket = \"b\"\n    key = \"k\"\n  }}\n}}\n{}", pair_with(A, B)),
        format!("{}\nlease {{\n  heartbeat = \"1m\"\n  stale_after = \"1m\"\n}}\n", pair_with(A, B)),
        "pair \"p\" {\n  primary \"x\" {}\n  secondary {}\n}\n".to_string(),
    ];
    let mut seen = 0;
    for text in &bad {
        let Err(e) = Config::parse(text, Path::new("efs-dr.hcl")) else {
            panic!("expected problems in:\n{text}");
        };
        for issue in &e.issues {
            let Some(example) = &issue.example else {
                continue;
            };
            seen += 1;
            assert!(
                hcl_edit::parser::parse_body(example).is_ok(),
                "the example of \"{}\" is not valid HCL:\n{example}",
                issue.problem
            );
        }
    }
    assert!(seen >= 12, "only {seen} examples were checked");
}

#[test]
fn an_s3_backend_gives_the_lease_its_bucket_and_endpoint() {
    let text = format!(
        "terraform {{\n  backend \"s3\" {{\n    bucket = \"tf-state\"\n    key = \"dr/terraform.tfstate\"\n    region = \"eu-west-1\"\n    use_lockfile = true\n    use_path_style = true\n    endpoints = {{\n      s3 = \"http://127.0.0.1:9000\"\n    }}\n    skip_credentials_validation = true\n  }}\n}}\n{}",
        pair_with(A, B)
    );
    let c = parse(&text).unwrap();
    let s3 = c.terraform.s3_backend.expect("an S3 backend");
    assert_eq!(s3.bucket, "tf-state");
    assert_eq!(s3.key, "dr/terraform.tfstate");
    assert_eq!(s3.region.as_deref(), Some("eu-west-1"));
    assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    assert!(s3.path_style && s3.locks_state);
    // The block itself still goes to the root as written (Terraform validates the rest).
    assert!(c
        .terraform
        .backend
        .unwrap()
        .contains("skip_credentials_validation = true"));
    assert_eq!(c.lease.heartbeat, Duration::from_secs(10));
    assert_eq!(c.lease.stale_after, Duration::from_secs(120));

    // Other backends are passed through and give no S3 lease.
    let gcs = format!(
        "terraform {{\n  backend \"gcs\" {{\n    bucket = \"x\"\n  }}\n}}\n{}",
        pair_with(A, B)
    );
    assert!(parse(&gcs).unwrap().terraform.s3_backend.is_none());
}

#[test]
fn an_s3_backend_must_lock_and_name_its_state() {
    let unlocked = format!(
        "terraform {{\n  backend \"s3\" {{\n    bucket = \"b\"\n    key = \"k\"\n  }}\n}}\n{}",
        pair_with(A, B)
    );
    let issue = only_issue(&unlocked);
    assert_eq!(issue.field, "terraform > backend \"s3\"");
    assert!(
        issue.problem.contains("add use_lockfile = true"),
        "{}",
        issue.problem
    );

    let nameless = format!(
        "terraform {{\n  backend \"s3\" {{\n    region = \"us-east-1\"\n    use_lockfile = true\n  }}\n}}\n{}",
        pair_with(A, B)
    );
    let issue = only_issue(&nameless);
    assert_eq!(issue.field, "terraform > backend \"s3\" > bucket");

    let expression = format!(
        "terraform {{\n  backend \"s3\" {{\n    bucket = var.bucket\n    key = \"k\"\n    use_lockfile = true\n  }}\n}}\n{}",
        pair_with(A, B)
    );
    let issue = only_issue(&expression);
    assert_eq!(issue.field, "terraform > backend \"s3\" > bucket");
    assert!(issue.problem.contains("literal value"), "{}", issue.problem);
}

#[test]
fn the_lease_block_sets_its_timings_and_keeps_them_apart() {
    let text = format!(
        "{}\nlease {{\n  heartbeat = \"2s\"\n  stale_after = \"10s\"\n}}\n",
        pair_with(A, B)
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.lease.heartbeat, Duration::from_secs(2));
    assert_eq!(c.lease.stale_after, Duration::from_secs(10));

    let close = format!(
        "{}\nlease {{\n  heartbeat = \"30s\"\n  stale_after = \"1m\"\n}}\n",
        pair_with(A, B)
    );
    let issue = only_issue(&close);
    assert_eq!(issue.field, "lease > stale_after");
    assert!(
        issue.problem.contains("at least three heartbeats (1m 30s)"),
        "{}",
        issue.problem
    );
}

#[test]
fn secrets_in_the_backend_are_refused_with_what_to_do_instead() {
    let text = format!(
        "terraform {{\n  backend \"s3\" {{\n    bucket = \"tf-state\"\n    key = \"dr/terraform.tfstate\"\n    region = \"us-west-2\"\n    use_lockfile = true\n    access_key = \"AKIAEXAMPLEEXAMPLE12\"\n    secret_key = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"\n    token = \"FwoGZXIvYXdzEXAMPLE\"\n  }}\n}}\n{}",
        pair_with(A, B)
    );
    let e = parse(&text).unwrap_err();
    let shown = e.to_string();
    for key in ["access_key", "secret_key", "token"] {
        assert!(
            e.issues
                .iter()
                .any(|i| i.field.ends_with(key) && i.problem.contains("is a secret")),
            "{key}: {shown}"
        );
    }
    assert!(shown.contains("TF_CLI_ARGS_init"), "{shown}");
    assert!(
        !shown.contains("wJalrXUtnFEMI"),
        "the secret itself is never shown: {shown}"
    );
}

#[test]
fn max_parallel_bounds_the_fleets_hooks_from_the_top_level_block_only() {
    let c = parse(&pair_with(A, B)).unwrap();
    assert!(c.pairs[0].hooks.is_none());
    let top = format!(
        "hooks {{\n  serve_from_b = \"./serve.sh\"\n  max_parallel = 4\n}}\n{}",
        pair_with(A, B)
    );
    assert_eq!(
        parse(&top).unwrap().pairs[0]
            .hooks
            .as_ref()
            .unwrap()
            .max_parallel,
        4
    );
    let default = format!(
        "hooks {{\n  serve_from_b = \"./serve.sh\"\n}}\n{}",
        pair_with(A, B)
    );
    assert_eq!(
        parse(&default).unwrap().pairs[0]
            .hooks
            .as_ref()
            .unwrap()
            .max_parallel,
        crate::hooks::DEFAULT_MAX_PARALLEL
    );
    // A pair's own block keeps the top-level bound.
    let own = format!(
        "hooks {{\n  max_parallel = 4\n}}\npair \"p\" {{\n  primary {{\n{A}\n  }}\n  secondary {{\n{B}\n  }}\n  hooks {{\n    serve_from_b = \"./p.sh\"\n  }}\n}}\n"
    );
    assert_eq!(
        parse(&own).unwrap().pairs[0]
            .hooks
            .as_ref()
            .unwrap()
            .max_parallel,
        4
    );
    let in_pair = format!(
        "pair \"p\" {{\n  primary {{\n{A}\n  }}\n  secondary {{\n{B}\n  }}\n  hooks {{\n    max_parallel = 4\n  }}\n}}\n"
    );
    let i = only_issue(&in_pair);
    assert!(
        i.problem.contains("top-level `hooks` block") && i.line == Some(11),
        "{i:?}"
    );
    let zero = format!("hooks {{\n  max_parallel = 0\n}}\n{}", pair_with(A, B));
    assert!(only_issue(&zero).problem.contains("from 1 to 1024"));
}
