use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::*;

fn example() -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Config::load(&root.join("efs-dr.hcl")).expect("the example configuration is valid")
}

#[test]
fn the_committed_root_is_what_the_example_config_renders() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("terraform");
    let files = render_root(&example(), &BTreeMap::new(), &BTreeSet::new()).unwrap();
    assert_eq!(files.len(), 4, "module_source is set: no module copy");
    for f in files {
        let committed = std::fs::read_to_string(root.join(&f.path)).unwrap_or_else(|e| {
            panic!("{}: {e} (run `efs-dr render` and commit)", f.path.display())
        });
        assert_eq!(
            committed,
            f.content,
            "terraform/{} is stale: run `efs-dr render`",
            f.path.display()
        );
    }
}

#[test]
fn pairs_are_grouped_by_region_pair_and_directions_rendered() {
    let c = example();
    let mut d = BTreeMap::new();
    d.insert("shared-home".to_string(), Direction::Reverse);
    let files = render_root(&c, &d, &BTreeSet::new()).unwrap();
    let main = &files
        .iter()
        .find(|f| f.path == Path::new("main.tf"))
        .unwrap()
        .content;
    assert!(main.contains("module \"us_east_1__us_west_2\""), "{main}");
    assert!(
        main.contains("module \"eu_west_1__eu_central_1\""),
        "{main}"
    );
    let vars = &files
        .iter()
        .find(|f| f.path == Path::new(DIRECTIONS_FILE))
        .unwrap()
        .content;
    let v: serde_json::Value = serde_json::from_str(vars).unwrap();
    assert_eq!(v["directions"]["shared-home"], "reverse");
    assert_eq!(
        v["directions"]["media"], "forward",
        "unnamed pairs default to forward"
    );
    assert_eq!(
        replication_address(&c.pairs[0], Direction::Forward).unwrap(),
        "module.us_east_1__us_west_2.aws_efs_replication_configuration.forward[\"shared-home\"]"
    );
    assert_eq!(replication_address(&c.pairs[0], Direction::None), None);
}

#[test]
fn without_module_source_the_module_is_written_beside_the_root() {
    let text = "pair \"p\" {\n  primary {\n    region = \"us-east-1\"\n    file_system_id = \"fs-01234567\"\n  }\n  secondary {\n    region = \"us-west-2\"\n    file_system_id = \"fs-89abcdef\"\n  }\n}\nterraform {\n  backend \"s3\" {\n    bucket = \"state\"\n    key    = \"efs-dr\"\n    use_lockfile = true\n  }\n}\n";
    let c = Config::parse(text, Path::new("efs-dr.hcl")).unwrap();
    let files = render_root(&c, &BTreeMap::new(), &BTreeSet::new()).unwrap();
    assert!(files
        .iter()
        .any(|f| f.path == Path::new("modules/efs_replication/main.tf")));
    let main = &files
        .iter()
        .find(|f| f.path == Path::new("main.tf"))
        .unwrap()
        .content;
    assert!(main.contains("source = \"./modules/efs_replication\""));
    let versions = &files
        .iter()
        .find(|f| f.path == Path::new("versions.tf"))
        .unwrap()
        .content;
    assert!(
        versions
            .contains("  backend \"s3\" {\n    bucket = \"state\"\n    key    = \"efs-dr\"\n    use_lockfile = true\n  }"),
        "{versions}"
    );
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(write(dir.path(), &files).unwrap().len(), files.len());
    assert!(
        write(dir.path(), &files).unwrap().is_empty(),
        "unchanged files are not rewritten"
    );
}

/// The provider block of `alias` in the rendered providers.tf.
fn provider_block(files: &[RenderedFile], alias: &str) -> String {
    let text = &files
        .iter()
        .find(|f| f.path == Path::new("providers.tf"))
        .unwrap()
        .content;
    let body: hcl::Body = hcl::from_str(text).expect("providers.tf is HCL");
    let block = body
        .blocks()
        .find(|b| {
            b.body()
                .attributes()
                .any(|a| a.key() == "alias" && a.expr().to_string() == format!("\"{alias}\""))
        })
        .unwrap_or_else(|| panic!("no provider {alias} in {text}"));
    block
        .body()
        .attributes()
        .map(|a| format!("{} = {}", a.key(), a.expr()))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn providers_never_need_a_primary_regions_sts_and_a_region_declared_down_calls_nothing() {
    let c = example();
    let files = render_root(&c, &BTreeMap::new(), &BTreeSet::new()).unwrap();
    assert_eq!(
        provider_block(&files, "us_east_1"),
        "alias = \"us_east_1\"; region = \"us-east-1\"; sts_region = \"us-west-2\""
    );
    assert_eq!(
        provider_block(&files, "us_west_2"),
        "alias = \"us_west_2\"; region = \"us-west-2\"",
        "a secondary region asks its own STS"
    );
    let down = BTreeSet::from(["us-east-1".to_string()]);
    let files = render_root(&c, &BTreeMap::new(), &down).unwrap();
    assert_eq!(
        provider_block(&files, "us_east_1"),
        "alias = \"us_east_1\"; region = \"us-east-1\"; sts_region = \"us-west-2\"; skip_credentials_validation = true; skip_requesting_account_id = true; max_retries = 1"
    );
    assert_eq!(
        provider_block(&files, "eu_west_1"),
        "alias = \"eu_west_1\"; region = \"eu-west-1\"; sts_region = \"eu-central-1\"",
        "only the regions declared down"
    );
}

#[test]
fn the_serving_side_follows_the_direction_and_a_fenced_b() {
    use super::serving;
    assert_eq!(serving(Direction::Forward, false), "primary");
    assert_eq!(serving(Direction::Reverse, true), "secondary");
    assert_eq!(
        serving(Direction::None, false),
        "secondary",
        "a failover: B serves"
    );
    assert_eq!(
        serving(Direction::None, true),
        "primary",
        "a failback's last phase: A serves"
    );
    let c = example();
    let fenced: BTreeSet<String> = c.pairs.iter().map(|p| p.name.clone()).take(1).collect();
    let none: BTreeMap<String, Direction> = c
        .pairs
        .iter()
        .map(|p| (p.name.clone(), Direction::None))
        .collect();
    let files = render_root_serving(&c, &none, &BTreeSet::new(), &fenced).unwrap();
    let vars = files
        .iter()
        .find(|f| f.path == std::path::Path::new(DIRECTIONS_FILE))
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&vars.content).unwrap();
    let first = fenced.iter().next().unwrap();
    assert_eq!(doc["serving"][first], "primary", "{doc}");
    assert_eq!(doc["directions"][first], "none", "{doc}");
}
