//! The simulator's clock: simulated now = start + elapsed real time x time scale + explicit
//! advances. All times are milliseconds since the Unix epoch.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub type Millis = i64;

pub fn millis(d: Duration) -> Millis {
    d.as_millis().min(i64::MAX as u128) as Millis
}

pub fn system_now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(millis)
        .unwrap_or(0)
}

pub fn to_system_time(t: Millis) -> SystemTime {
    if t >= 0 {
        UNIX_EPOCH + Duration::from_millis(t as u64)
    } else {
        UNIX_EPOCH
    }
}

/// RFC 3339 with millisecond precision, for logs and the control API.
pub fn rfc3339(t: Millis) -> String {
    humantime::format_rfc3339_millis(to_system_time(t)).to_string()
}

/// The HTTP `Date` header value.
pub fn http_date(t: Millis) -> String {
    httpdate::fmt_http_date(to_system_time(t))
}

#[derive(Debug)]
pub struct SimClock {
    anchor_real: Instant,
    anchor_sim: Millis,
    scale: f64,
    advanced: Mutex<Millis>,
    stopped: Mutex<Stopped>,
}

/// Real time the clock does not count: while some holder keeps it stopped, and in total.
#[derive(Debug, Default)]
struct Stopped {
    holders: u32,
    since: Option<Instant>,
    total: Duration,
}

impl Stopped {
    fn at(&self, now: Instant) -> Duration {
        self.total
            + self
                .since
                .map(|s| now.duration_since(s))
                .unwrap_or_default()
    }
}

impl SimClock {
    pub fn new(start: Millis, scale: f64) -> Self {
        SimClock {
            anchor_real: Instant::now(),
            anchor_sim: start,
            scale,
            advanced: Mutex::new(0),
            stopped: Mutex::new(Stopped::default()),
        }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    pub fn now(&self) -> Millis {
        let now = Instant::now();
        let stopped = self.stopped.lock().expect("clock lock").at(now);
        let real = now
            .duration_since(self.anchor_real)
            .saturating_sub(stopped)
            .as_secs_f64();
        let advanced = *self.advanced.lock().expect("clock lock");
        self.anchor_sim + (real * self.scale * 1000.0) as Millis + advanced
    }

    /// Stops the clock until every `stop` has its `restart` (a rehearsal: while Terraform works
    /// locally and waits on nothing in AWS, AWS's time does not pass).
    pub fn stop(&self) {
        let mut s = self.stopped.lock().expect("clock lock");
        if s.holders == 0 {
            s.since = Some(Instant::now());
        }
        s.holders += 1;
    }

    pub fn restart(&self) {
        let mut s = self.stopped.lock().expect("clock lock");
        if s.holders == 0 {
            return;
        }
        s.holders -= 1;
        if s.holders == 0 {
            if let Some(since) = s.since.take() {
                s.total += since.elapsed();
            }
        }
    }

    /// Jumps simulated time forward (drills and tests: "15 minutes later").
    pub fn advance(&self, by: Millis) {
        *self.advanced.lock().expect("clock lock") += by.max(0);
    }

    /// How long real time takes for `sim` of simulated time.
    pub fn real_duration(&self, sim: Millis) -> Duration {
        Duration::from_secs_f64((sim.max(0) as f64 / 1000.0) / self.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_scale_and_advance() {
        let c = SimClock::new(1_000_000, 1000.0);
        let a = c.now();
        assert!(a >= 1_000_000);
        c.advance(60_000);
        let b = c.now();
        assert!(b - a >= 60_000);
        assert_eq!(c.real_duration(60_000), Duration::from_millis(60));
    }

    #[test]
    fn a_stopped_clock_stands_still_until_its_last_holder_restarts_it() {
        let c = SimClock::new(0, 1000.0);
        c.stop();
        c.stop();
        let a = c.now();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(c.now(), a, "stopped");
        c.restart();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(c.now(), a, "one holder still keeps it stopped");
        c.restart();
        std::thread::sleep(Duration::from_millis(20));
        assert!(c.now() >= a + 20_000, "runs again, at the scale");
        c.restart();
        c.advance(5);
        assert!(c.now() >= a + 20_005, "an extra restart changes nothing");
    }

    #[test]
    fn formats() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.500Z");
    }
}
