//! The documented upper and lower limits of every size a user can ask for (users, seeded
//! users, argon2 cost, durations, rates, scale, input file sizes), and the checks that refuse
//! a value outside them with one line naming the limit. Used by the command-line parsers and
//! by the profile / rule file readers alike, so a value means the same in both places.
//! Bottom layer: imports only `units`. The numbers and why they were chosen: README
//! ("Limits") and docs/LIMITS.md.

use std::time::Duration;

use crate::units::{format_duration, parse_duration};

/// A rate (`200/s`, `12000/m`) within [`MIN_RATE`] … [`MAX_RATE`].
pub fn parse_rate(text: &str) -> Result<f64, String> {
    rate("rate", text, crate::units::parse_rate(text)?)
}

/// Virtual users of one process (`--users`, `--rate-users`, a profile stage's `users`). Goose
/// allocates every user up front (~110 bytes each before the run, a task and a session each
/// while it runs); more users than this belong on several machines (`--shard`).
pub const MAX_USERS: u32 = 100_000;

/// Users seeded into the reference API (`--target-seed-users`, `serve --seed-users`): about
/// 0.6 KB of database per user (100,000 measured at 58 MB of SQLite), so at most ~0.6 GB.
pub const MAX_SEED_USERS: u64 = 1_000_000;

/// Arrival rates (`--rate`, a stage's `rate`, `capacity --start/--max`), per second.
pub const MIN_RATE: f64 = 0.1;
pub const MAX_RATE: f64 = 1_000_000.0;

/// Longest single duration (`--duration`, `--ramp`, a stage's `ramp` / `hold`) and longest
/// whole run (ramps + holds after every override). The recorder keeps one HDR histogram
/// (~190 KB) per flow per second of run, so one hour of five flows is ~3.4 GB of memory.
pub const MAX_RUN: Duration = Duration::from_secs(3600);

/// Longest request timeout (`--timeout`); shortest is 1 ms (Goose counts whole ms).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// `capacity --step-duration`: each step is a run of its own.
pub const MIN_STEP: Duration = Duration::from_secs(2);
pub const MAX_STEP: Duration = Duration::from_secs(600);

/// `capacity --bisect` and `ab --runs`: each is one more whole run.
pub const MAX_BISECT: u32 = 20;
pub const MAX_AB_RUNS: u32 = 100;

/// `serve --token-ttl`.
pub const MIN_TOKEN_TTL: Duration = Duration::from_secs(1);
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(30 * 86_400);

/// `--scale`: (0, 100].
pub const MAX_SCALE: f64 = 100.0;

/// argon2id cost of the reference API (`serve --hash-cost m=KIB,t=N,p=N`). 64 MiB and t=3,
/// p=4 is RFC 9106's second recommended option; every hash in flight holds `m` KiB (at most
/// two per core at once).
pub const MAX_HASH_M_KIB: u32 = 65_536;
pub const MAX_HASH_T: u32 = 10;
pub const MAX_HASH_P: u32 = 16;

/// Largest input file read whole (contract, profiles, thresholds, metrics map, criterion
/// estimates): 16 MiB.
pub const MAX_INPUT_BYTES: u64 = 16 << 20;
/// Largest run.json (`report`, `compare`, `merge`): 256 MiB (a one-hour run of five flows is
/// ~20 MB).
pub const MAX_RECORD_BYTES: u64 = 256 << 20;

/// A whole number of users for `flag` in 1..=[`MAX_USERS`].
pub fn users(flag: &str, text: &str) -> Result<u32, String> {
    let n = whole(flag, text)?;
    if n < 1 {
        return Err(format!("{flag} {text}: at least 1 user"));
    }
    if n > u64::from(MAX_USERS) {
        return Err(format!("{flag} {text}: at most {MAX_USERS} users"));
    }
    Ok(n as u32)
}

/// A whole number of seeded users in 0..=[`MAX_SEED_USERS`].
pub fn seed_users(flag: &str, text: &str) -> Result<u64, String> {
    let n = whole(flag, text)?;
    if n > MAX_SEED_USERS {
        return Err(format!("{flag} {text}: at most {MAX_SEED_USERS} users"));
    }
    Ok(n)
}

/// A whole number in 1..=`max` (`what` names the unit in the message).
pub fn count(flag: &str, text: &str, max: u32, what: &str) -> Result<u32, String> {
    let n = whole(flag, text)?;
    if n > u64::from(max) {
        return Err(format!("{flag} {text}: at most {max} {what}"));
    }
    Ok(n as u32)
}

fn whole(flag: &str, text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(format!("{flag} {text}: must not be negative"));
    }
    t.parse::<u64>().map_err(|e| {
        if t.chars().all(|c| c.is_ascii_digit()) && !t.is_empty() {
            // Beyond u64: still "too large", not "invalid digit".
            format!("{flag} {text}: far too large ({e})")
        } else {
            format!("{flag} '{text}' is not a whole number")
        }
    })
}

/// A per-second rate within [[`MIN_RATE`], [`MAX_RATE`]]; `text` is what the user wrote.
pub fn rate(what: &str, text: &str, per_second: f64) -> Result<f64, String> {
    if per_second.is_nan() || per_second <= 0.0 {
        return Err(format!("{what} '{text}' must be positive, e.g. 200/s"));
    }
    if per_second < MIN_RATE {
        return Err(format!("{what} '{text}': at least {MIN_RATE}/s (6/m)"));
    }
    if per_second > MAX_RATE {
        return Err(format!("{what} '{text}': at most {MAX_RATE:.0}/s"));
    }
    Ok(per_second)
}

/// A duration (`500ms`, `2m`) no longer than `max`.
pub fn duration_at_most(flag: &str, text: &str, max: Duration) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    check_at_most(flag, text, d, max)
}

/// `d` (written `text`) is no longer than `max`.
pub fn check_at_most(
    flag: &str,
    text: &str,
    d: Duration,
    max: Duration,
) -> Result<Duration, String> {
    if d > max {
        return Err(format!("{flag} {text}: at most {}", format_duration(max)));
    }
    Ok(d)
}

/// A duration in [`min`, `max`].
pub fn duration_between(
    flag: &str,
    text: &str,
    min: Duration,
    max: Duration,
) -> Result<Duration, String> {
    let d = duration_at_most(flag, text, max)?;
    if d < min {
        return Err(format!("{flag} {text}: at least {}", format_duration(min)));
    }
    Ok(d)
}

/// `--scale`: a number in (0, [`MAX_SCALE`]].
pub fn scale(text: &str) -> Result<f64, String> {
    let f: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("--scale '{text}' is not a number like 0.1"))?;
    if !(f.is_finite() && f > 0.0) {
        return Err(format!(
            "--scale {text}: must be a number in (0, {MAX_SCALE:.0}]"
        ));
    }
    if f > MAX_SCALE {
        return Err(format!("--scale {text}: at most {MAX_SCALE:.0}"));
    }
    Ok(f)
}

/// Whole run length (ramps + holds) against [`MAX_RUN`]; `what` says where it comes from.
pub fn run_length(what: &str, total: Duration) -> Result<(), String> {
    if total > MAX_RUN {
        return Err(format!(
            "{what}: the run would last {}, at most {} (ramps + holds)",
            format_duration(total),
            format_duration(MAX_RUN)
        ));
    }
    Ok(())
}

/// argon2 parameters within [`MAX_HASH_M_KIB`], [`MAX_HASH_T`], [`MAX_HASH_P`].
pub fn hash_cost(text: &str, m_kib: u32, t: u32, p: u32) -> Result<(), String> {
    if m_kib > MAX_HASH_M_KIB {
        return Err(format!(
            "--hash-cost {text}: m at most {MAX_HASH_M_KIB} KiB (64 MiB)"
        ));
    }
    if t > MAX_HASH_T {
        return Err(format!("--hash-cost {text}: t at most {MAX_HASH_T}"));
    }
    if p > MAX_HASH_P {
        return Err(format!("--hash-cost {text}: p at most {MAX_HASH_P}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_name_the_limit() {
        assert_eq!(users("--users", "100000"), Ok(100_000));
        assert_eq!(
            users("--users", "4294967295").unwrap_err(),
            "--users 4294967295: at most 100000 users"
        );
        assert!(users("--users", "99999999999999999999999")
            .unwrap_err()
            .contains("far too large"));
        assert!(users("--users", "0").unwrap_err().contains("at least 1"));
        assert!(users("--users", "-5").unwrap_err().contains("negative"));
        assert!(users("--users", "x").unwrap_err().contains("whole number"));
    }

    #[test]
    fn rates_have_a_floor_and_a_ceiling() {
        assert!(rate("--rate", "1e-300/s", 1e-300)
            .unwrap_err()
            .contains("at least 0.1/s"));
        assert!(rate("--rate", "2e6/s", 2e6)
            .unwrap_err()
            .contains("at most 1000000/s"));
        assert!(rate("--rate", "0/s", 0.0).unwrap_err().contains("positive"));
        assert_eq!(rate("--rate", "6/m", 0.1), Ok(0.1));
    }

    #[test]
    fn durations_and_scale() {
        assert!(duration_at_most("--ramp", "2h", MAX_RUN)
            .unwrap_err()
            .contains("--ramp 2h: at most 3600s"));
        assert!(
            duration_between("--timeout", "100us", MIN_TIMEOUT, MAX_TIMEOUT)
                .unwrap_err()
                .contains("at least 1ms")
        );
        assert!(scale("1000").unwrap_err().contains("at most 100"));
        assert!(scale("NaN").is_err());
        assert!(run_length("x", Duration::from_secs(3601)).is_err());
        assert!(run_length("x", MAX_RUN).is_ok());
    }
}
