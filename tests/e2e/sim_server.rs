//! The simulator as a server: its clock on the wire, its state file, and the `sim serve` binary.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::SystemTime;

use aws_sdk_efs::types::{DestinationToCreate, ReplicationOverwriteProtection, ReplicationStatus};
use efs_dr_sim::{ControlClient, SimOptions};
use efs_dr_testkit::*;
use http::Method;

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";

fn header_time(r: &efs_dr_sim::control_client::RawResponse) -> i64 {
    let date = r
        .headers
        .get("date")
        .expect("a Date header")
        .to_str()
        .unwrap();
    httpdate::parse_http_date(date)
        .unwrap()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_simulated_now() {
    // Start a day in the past, at 100x: the Date header is simulated time, not the local clock.
    let day = 86_400_000;
    let start = efs_dr_sim::clock::system_now_millis() - day;
    let ts = start_with(SimOptions {
        time_scale: 100.0,
        start_time: Some(start),
        ..Default::default()
    })
    .await;
    ts.control.advance(3600.0).await.unwrap();
    let signed = [(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/elasticfilesystem/aws4_request, SignedHeaders=host, Signature=00",
    )];
    let r = ts
        .control
        .raw(Method::GET, "/2015-02-01/file-systems", &signed, vec![])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let clock = ts.control.clock().await.unwrap();
    let date = header_time(&r);
    assert!(
        (clock.now_ms - date).abs() < 60_000,
        "Date {date} should be the simulated now {}, not the local clock",
        clock.now_ms
    );
    assert!(date < efs_dr_sim::clock::system_now_millis() - day / 2);
    // Errors carry it too, and the control API as well.
    let r = ts
        .control
        .raw(
            Method::GET,
            "/2015-02-01/file-systems?FileSystemId=fs-01234567",
            &signed,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(
        r.headers.get("x-amzn-errortype").unwrap(),
        "FileSystemNotFound"
    );
    assert!((header_time(&r) - clock.now_ms).abs() < 60_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_and_unknown_requests_get_aws_shaped_errors() {
    let ts = start(1.0).await;
    let r = ts
        .control
        .raw(Method::GET, "/2015-02-01/file-systems", &[], vec![])
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert!(body["Message"].as_str().unwrap().contains("SigV4"));
    let r = ts
        .control
        .raw(Method::GET, "/2015-02-01/nothing-here", &[], vec![])
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(
        r.headers.get("x-amzn-errortype").unwrap(),
        "UnknownOperationException"
    );
    // The control API refuses bad input with a JSON error.
    let r = ts
        .control
        .raw(Method::POST, "/_sim/regions/mars/outage", &[], vec![])
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    let r = ts
        .control
        .raw(
            Method::PUT,
            "/_sim/file-systems/fs-01234567/files/a",
            &[],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["error"], "FileSystemNotFound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_a_state_file_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sim.json");
    let opts = || SimOptions {
        time_scale: 1.0,
        state_file: Some(state.clone()),
        seed: Some(9),
        ..Default::default()
    };
    let ts = start_with(opts()).await;
    let a = file_system(&ts, EAST, "a").await;
    let b = file_system(&ts, WEST, "b").await;
    ts.control
        .write_file(&a, "keep/me.txt", b"precious")
        .await
        .unwrap();
    efs(&ts.url, WEST)
        .update_file_system_protection()
        .file_system_id(&b)
        .replication_overwrite_protection(ReplicationOverwriteProtection::Disabled)
        .send()
        .await
        .unwrap();
    efs(&ts.url, EAST)
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
        .unwrap();
    ts.control.advance(5.0 * 60.0).await.unwrap();
    ts.control.set_outage("eu-west-1", true).await.unwrap();
    let before = ts.control.clock().await.unwrap().now_ms;
    let files_before = ts.control.list_files(&a).await.unwrap();
    ts.sim.shutdown().await;

    let ts = start_with(opts()).await;
    let after = ts.control.clock().await.unwrap().now_ms;
    assert!(
        after >= before,
        "simulated time does not go back: {after} < {before}"
    );
    assert_eq!(ts.control.list_files(&a).await.unwrap(), files_before);
    let d = efs(&ts.url, WEST)
        .describe_replication_configurations()
        .file_system_id(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.replications()[0].destinations()[0].status(),
        &ReplicationStatus::Enabling
    );
    // Pending transitions continue where they were: 10 more minutes completes the 15.
    ts.control.advance(10.0 * 60.0).await.unwrap();
    let d = efs(&ts.url, EAST)
        .describe_replication_configurations()
        .file_system_id(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.replications()[0].destinations()[0].status(),
        &ReplicationStatus::Enabled
    );
    // The outage was kept too.
    let err = efs(&ts.url, "eu-west-1")
        .describe_file_systems()
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        aws_sdk_efs::error::SdkError::DispatchFailure(_)
    ));
    // New ids do not collide with the old ones.
    let c = file_system(&ts, EAST, "c").await;
    assert!(c != a && c != b);
}

#[test]
fn a_corrupt_state_file_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sim.json");
    std::fs::write(&state, "{ not json").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_efs-dr"))
        .args(["sim", "serve", "--listen", "127.0.0.1:0", "--state-file"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not a state file") && err.contains("move it away"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// `efs-dr sim serve` as a process: prints its endpoint, and is killed without warning.
struct Served {
    child: Child,
    url: String,
}

fn serve(state: &std::path::Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_efs-dr"))
        .args([
            "sim",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--time-scale",
            "60",
            "--state-file",
        ])
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "printed: {line:?}");
    Served { child, url }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_its_port_and_survives_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sim.json");
    let mut first = serve(&state);
    assert!(
        !first.url.ends_with(":0"),
        "port 0 is replaced by the real port"
    );
    let control = ControlClient::new(&first.url);
    control.health().await.unwrap();
    let id = efs(&first.url, EAST)
        .create_file_system()
        .creation_token("survivor")
        .send()
        .await
        .unwrap()
        .file_system_id
        .clone();
    control.advance(10.0).await.unwrap();
    control
        .write_file(&id, "a/b.txt", b"still here")
        .await
        .unwrap();
    first.child.kill().unwrap(); // SIGKILL: no chance to save on the way out
    first.child.wait().unwrap();

    let mut second = serve(&state);
    let control = ControlClient::new(&second.url);
    assert_eq!(
        control.read_file(&id, "a/b.txt").await.unwrap(),
        b"still here"
    );
    let d = efs(&second.url, EAST)
        .describe_file_systems()
        .creation_token("survivor")
        .send()
        .await
        .unwrap();
    assert_eq!(d.file_systems()[0].file_system_id(), id);
    second.child.kill().unwrap();
    second.child.wait().unwrap();
}

#[test]
fn bad_flags_are_refused_without_a_panic() {
    let out = Command::new(env!("CARGO_BIN_EXE_efs-dr"))
        .args([
            "sim",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--time-scale",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("time scale must be a positive number"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_efs-dr"))
        .args(["sim", "serve", "--replication-enable-delay", "soon"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "usage errors exit 1; 2 means refused as unsafe"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("replication-enable-delay"));
}
