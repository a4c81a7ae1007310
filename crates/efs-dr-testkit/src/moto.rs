//! A real S3 for Terraform's S3 backend and efs-dr's run lease: moto's server mode
//! (`moto[server]` from PyPI, which `make test` installs), started on loopback by the test
//! itself and stopped when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

pub struct Moto {
    child: Child,
    pub url: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Moto {
    /// moto's S3 on a free loopback port, ready to answer.
    pub async fn start() -> Moto {
        Moto::start_with(&[]).await
    }

    /// moto that checks credentials: every request needs an access key moto's IAM knows
    /// (`INITIAL_NO_AUTH_ACTION_COUNT=0`), so any key a test uses is refused.
    pub async fn start_checking_credentials() -> Moto {
        Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]).await
    }

    async fn start_with(env: &[(&str, &str)]) -> Moto {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let port = free_port();
        let child = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{python} -m moto.server does not start ({e}): run `make test`, which installs moto[server]"));
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto did not listen on {} within 60 s",
                moto.url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        moto
    }

    /// An S3 client on this moto (path style, test credentials).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .force_path_style(true)
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub async fn create_bucket(&self, name: &str) {
        self.s3()
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("bucket {name} on moto: {e:?}"));
    }

    /// S3 stops answering (the process is stopped: connections hang, nothing is lost).
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// S3 answers again.
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "signal {signal} to moto");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // SAFETY: as above; a stopped process must be continued to die of SIGKILL's reaping.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGCONT) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
