//! Fault injection for the reference API: fixed added latency, a random error rate, and
//! periodic stalls (the server stops answering for `length` every `every`). All off by
//! default; they are the ground truth for the harness's accuracy checks.

use std::str::FromStr;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::units::parse_duration;

/// A periodic stall: during the first `length` of every `every` (counted from server start)
/// requests are held until the stall ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stall {
    pub length: Duration,
    pub every: Duration,
}

impl FromStr for Stall {
    type Err = String;

    /// `1s/10s`: stall 1 s out of every 10 s.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s
            .split_once('/')
            .ok_or_else(|| format!("stall '{s}' must look like LENGTH/PERIOD, e.g. 1s/10s"))?;
        let stall = Stall {
            length: parse_duration(a)?,
            every: parse_duration(b)?,
        };
        if stall.length.is_zero() || stall.length >= stall.every {
            return Err(format!(
                "stall '{s}': length must be > 0 and shorter than the period"
            ));
        }
        Ok(stall)
    }
}

/// The fault flags of one server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Added to every API request before it is handled.
    pub latency: Option<Duration>,
    /// Probability in [0, 1] that an API request is answered 503 without being handled.
    pub error_rate: f64,
    pub stall: Option<Stall>,
}

/// What the fault layer decided for one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Handle,
    InjectError,
}

impl Faults {
    pub fn is_off(&self) -> bool {
        self.latency.is_none() && self.error_rate <= 0.0 && self.stall.is_none()
    }

    /// How long a request arriving `since_start` after server start waits for a stall to end.
    pub fn stall_wait(&self, since_start: Duration) -> Duration {
        match self.stall {
            Some(st) => {
                let phase = since_start.as_nanos() % st.every.as_nanos();
                let len = st.length.as_nanos();
                if phase < len {
                    Duration::from_nanos((len - phase) as u64)
                } else {
                    Duration::ZERO
                }
            }
            None => Duration::ZERO,
        }
    }

    /// Waits out stalls and injected latency, then decides whether to inject an error.
    pub async fn apply(&self, server_start: Instant) -> Decision {
        let wait = self.stall_wait(server_start.elapsed()) + self.latency.unwrap_or_default();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        if self.error_rate > 0.0 && rand::thread_rng().gen_bool(self.error_rate.min(1.0)) {
            Decision::InjectError
        } else {
            Decision::Handle
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stall_parses_and_rejects_nonsense() {
        let s: Stall = "1s/10s".parse().unwrap();
        assert_eq!(s.length, Duration::from_secs(1));
        assert_eq!(s.every, Duration::from_secs(10));
        assert!("10s/1s".parse::<Stall>().is_err());
        assert!("1s".parse::<Stall>().is_err());
        assert!("0s/10s".parse::<Stall>().is_err());
    }

    #[test]
    fn stall_wait_follows_the_period() {
        let f = Faults {
            stall: Some("1s/10s".parse().unwrap()),
            ..Faults::default()
        };
        assert_eq!(
            f.stall_wait(Duration::from_millis(0)),
            Duration::from_secs(1)
        );
        assert_eq!(
            f.stall_wait(Duration::from_millis(400)),
            Duration::from_millis(600)
        );
        assert_eq!(f.stall_wait(Duration::from_millis(1000)), Duration::ZERO);
        assert_eq!(f.stall_wait(Duration::from_millis(9999)), Duration::ZERO);
        assert_eq!(
            f.stall_wait(Duration::from_millis(10_250)),
            Duration::from_millis(750)
        );
        assert!(Faults::default().is_off());
    }
}
