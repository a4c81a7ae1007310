//! Polling with backoff until a resource reaches a state, as the real provider's
//! `retry.StateChangeConf` does: 100 ms, doubling, capped (10 s in the real provider; 2 s here by
//! default so that simulator runs stay short, `EFS_DR_PROVIDER_MAX_POLL` to change it).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::clients::AwsClock;

/// What one poll saw.
pub enum Poll<T> {
    /// The target state.
    Done(T),
    /// A pending state: keep waiting.
    Pending(String),
}

fn max_poll() -> Duration {
    std::env::var("EFS_DR_PROVIDER_MAX_POLL")
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(Duration::from_secs(2))
}

/// Polls until `Done`, an error, or the timeout: the error then names the last state seen.
/// The timeout runs on AWS's clock (`clock`: the `Date` of AWS's answers, and their pace), as
/// real time does against real AWS; before AWS has answered, on the wall clock.
pub async fn until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    clock: &AwsClock,
    mut poll: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, String>>,
{
    let started = Instant::now();
    let aws_start = clock.now();
    let cap = max_poll();
    let mut delay = Duration::from_millis(100);
    loop {
        let last = match poll().await? {
            Poll::Done(v) => return Ok(v),
            Poll::Pending(state) => state,
        };
        // Where the next poll would land, in AWS time when AWS's clock and pace are known.
        let next = match (aws_start, clock.now(), clock.pace()) {
            (Some(s), Some(now), Some(pace)) => {
                now.duration_since(s).unwrap_or_default() + delay.mul_f64(pace)
            }
            _ => started.elapsed() + delay,
        };
        if next > timeout {
            return Err(format!(
                "timeout while waiting for {what} (last state: '{last}', timeout: {})",
                humantime::format_duration(timeout)
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(cap);
    }
}

/// A Terraform timeout string ("20m", "1h30m") or the default.
pub fn timeout_or(value: Option<&str>, default: Duration) -> Duration {
    value
        .and_then(|v| humantime::parse_duration(v).ok())
        .unwrap_or(default)
}
