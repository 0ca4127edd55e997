//! Distributed runs, before any merge: `--shard i/n` (each shard's share of the users and of
//! the user-name space), `--start-at` (a common start instant), `--run-id`, and the plan
//! fingerprint every shard records so [`crate::merge`] can tell shards of one plan apart.
//! See `docs/DISTRIBUTED.md`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::Failure;
use crate::profile::Profile;

/// Each shard's slice of the user-name space: shard `i` numbers its users from
/// `i * USER_SPACE_PER_SHARD`, so emails (`lt-{run}-{user}@…`) never collide across shards.
pub const USER_SPACE_PER_SHARD: u64 = 10_000_000;
/// Most shards a run may have.
pub const MAX_SHARDS: u32 = 10_000;
/// Environment variable an Indexed Job sets to the pod's completion index.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// How far `--start-at` may lie in the past (clock skew, slow pod start) before it is refused.
pub const START_AT_LATE: Duration = Duration::from_secs(5);
/// How far `--start-at` may lie in the future.
pub const START_AT_AHEAD: Duration = Duration::from_secs(24 * 3600);
/// `--shard i/n`: this process is shard `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: u32,
    pub count: u32,
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl ShardSpec {
    /// Parses `i/n`, or `env/n` taking `i` from `$JOB_COMPLETION_INDEX` (looked up by `env`).
    pub fn parse_with(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<ShardSpec, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("'{s}' is not I/N (e.g. 0/4, or env/4 for ${INDEX_ENV})"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("shard count '{n}' is not a number"))?;
        if count == 0 || count > MAX_SHARDS {
            return Err(format!("shard count must be between 1 and {MAX_SHARDS}"));
        }
        let i = i.trim();
        let index_text = if i.eq_ignore_ascii_case("env") {
            env(INDEX_ENV).ok_or_else(|| format!("env/{count}: ${INDEX_ENV} is not set"))?
        } else {
            i.to_string()
        };
        let index: u32 = index_text
            .trim()
            .parse()
            .map_err(|_| format!("shard index '{index_text}' is not a number"))?;
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range 0..{count} (indexes are 0-based)"
            ));
        }
        Ok(ShardSpec { index, count })
    }

    /// First user number of this shard's slice of the user-name space.
    pub fn user_offset(&self) -> u64 {
        u64::from(self.index) * USER_SPACE_PER_SHARD
    }
}

impl FromStr for ShardSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ShardSpec::parse_with(s, |k| std::env::var(k).ok())
    }
}

/// Shard `spec`'s share of `users`: the shares of all shards sum to `users` exactly; the
/// first `users % count` shards get one more.
pub fn split_users(users: u32, spec: ShardSpec) -> u32 {
    users / spec.count + u32::from(spec.index < users % spec.count)
}

/// Users a shard's plan starts over the whole run (Goose numbers them 0, 1, …).
fn launched_users(profile: &Profile) -> u64 {
    let mut previous = 0u32;
    let mut total = 0u64;
    for s in &profile.stages {
        total += u64::from(s.users.saturating_sub(previous));
        previous = s.users;
    }
    total
}

/// The profile one shard runs: every stage keeps its timing and gets the shard's share of
/// the users (possibly 0 for a stage with fewer users than shards). Trailing 0-user stages
/// are dropped: the shard simply ends when its last user stops (Goose 0.19 never finishes a
/// plan that holds 0 users before its end; 0-user stages between others work). Refused
/// (exit 2) when the shard would start no user at all, or more users than its slice of the
/// name space holds.
///
/// Open-model stages (`rate`) get `rate / N` arrivals per second each and a user pool of
/// `ceil(pool / N)` (at least 1): the arrivals sum exactly, the pools are rounded up.
pub fn shard_profile(profile: &Profile, spec: ShardSpec) -> Result<Profile, Failure> {
    let mut p = profile.clone();
    if p.is_open() {
        for s in &mut p.stages {
            s.rate = s.rate.map(|r| r / f64::from(spec.count));
            s.users = s.users.div_ceil(spec.count).max(1);
        }
        return Ok(p);
    }
    for s in &mut p.stages {
        s.users = split_users(s.users, spec);
    }
    while p.stages.len() > 1 && p.stages.last().is_some_and(|s| s.users == 0) {
        p.stages.pop();
    }
    if p.max_users() == 0 {
        return Err(Failure::bad_input(format!(
            "--shard {spec}: profile '{}' peaks at {} users, fewer than {} shards; use at most {} shards or more --users",
            profile.name,
            profile.max_users(),
            spec.count,
            profile.max_users()
        )));
    }
    if launched_users(&p) > USER_SPACE_PER_SHARD {
        return Err(Failure::bad_input(format!(
            "--shard {spec}: the shard would start more than {USER_SPACE_PER_SHARD} users, its share of the user-name space; use more shards"
        )));
    }
    Ok(p)
}

/// What shards of one run must share: the whole (unsharded) profile's Goose test plan, and
/// its stage rates for an open-model profile.
pub fn plan_fingerprint(profile: &Profile) -> String {
    let mut text = profile.test_plan();
    if profile.is_open() {
        let rates: Vec<String> = profile
            .stages
            .iter()
            .map(|s| format!("{}", s.rate.unwrap_or(0.0)))
            .collect();
        text.push_str(&format!(" @ {}/s", rates.join(",")));
    }
    text
}

/// `--run-id`: 1–40 characters of `[A-Za-z0-9_-]` (it becomes part of every email).
pub fn parse_run_id(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(s.to_string())
    } else {
        Err("a run id is 1-40 characters of A-Z a-z 0-9 - _".into())
    }
}

/// `--start-at`: an RFC 3339 instant, e.g. `2026-11-22T10:00:00Z`.
pub fn parse_start_at(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map_err(|e| format!("not an RFC 3339 time such as 2026-11-22T10:00:00Z ({e})"))
}

/// RFC 3339 text of an instant (UTC).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// How long to wait from `now` until `at`; refused (exit 2) when `at` is more than 24 h
/// ahead or more than a few seconds past.
pub fn start_delay(at: OffsetDateTime, now: OffsetDateTime) -> Result<Duration, Failure> {
    let ahead = (at - now).as_seconds_f64();
    if ahead > START_AT_AHEAD.as_secs_f64() {
        return Err(Failure::bad_input(format!(
            "--start-at {}: more than 24 h ahead ({:.0} s)",
            rfc3339(at),
            ahead
        )));
    }
    if -ahead > START_AT_LATE.as_secs_f64() {
        return Err(Failure::bad_input(format!(
            "--start-at {}: already {:.1} s in the past (now {}); choose a later time",
            rfc3339(at),
            -ahead,
            rfc3339(now)
        )));
    }
    Ok(Duration::from_secs_f64(ahead.max(0.0)))
}

/// Sleeps until `at` (already checked by [`start_delay`]), saying so on stderr; starts at
/// once, with a note, when `at` has passed meanwhile.
pub async fn sleep_until(at: OffsetDateTime, shard: Option<ShardSpec>) {
    let who = shard.map_or("run".to_string(), |s| format!("shard {s}"));
    let ahead = (at - OffsetDateTime::now_utc()).as_seconds_f64();
    if ahead > 0.0 {
        eprintln!(
            "{who}: waiting {ahead:.1} s until --start-at {}",
            rfc3339(at)
        );
        tokio::time::sleep(Duration::from_secs_f64(ahead)).await;
    } else if ahead < -0.5 {
        eprintln!(
            "{who}: --start-at {} passed {:.1} s ago; starting now",
            rfc3339(at),
            -ahead
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profiles;

    fn spec(index: u32, count: u32) -> ShardSpec {
        ShardSpec { index, count }
    }

    #[test]
    fn shard_specs_parse_and_refuse() {
        let no_env = |_: &str| None;
        assert_eq!(ShardSpec::parse_with("2/3", no_env), Ok(spec(2, 3)));
        assert_eq!(spec(2, 3).to_string(), "2/3");
        assert_eq!(
            ShardSpec::parse_with("env/4", |k| (k == INDEX_ENV).then(|| "3".to_string())),
            Ok(spec(3, 4))
        );
        assert!(ShardSpec::parse_with("env/4", no_env)
            .unwrap_err()
            .contains("JOB_COMPLETION_INDEX is not set"));
        assert!(ShardSpec::parse_with("3/3", no_env)
            .unwrap_err()
            .contains("0-based"));
        for bad in ["3", "a/3", "1/0", "1/x", "-1/3"] {
            assert!(ShardSpec::parse_with(bad, no_env).is_err(), "{bad}");
        }
        assert_eq!(spec(2, 3).user_offset(), 20_000_000);
    }

    #[test]
    fn user_shares_sum_exactly() {
        for users in [1u32, 2, 7, 10, 100, 500, 1001] {
            for count in [1u32, 2, 3, 7, 16] {
                let shares: Vec<u32> = (0..count)
                    .map(|i| split_users(users, spec(i, count)))
                    .collect();
                assert_eq!(shares.iter().sum::<u32>(), users, "{users}/{count}");
                let (lo, hi) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
                assert!(hi - lo <= 1, "{users}/{count}: {shares:?}");
            }
        }
    }

    #[test]
    fn sharded_profiles_keep_timing_and_refuse_empty_shards() {
        let spike = Profiles::builtin().get("spike").unwrap().clone();
        let shards: Vec<Profile> = (0..16)
            .map(|i| shard_profile(&spike, spec(i, 16)).unwrap())
            .collect();
        for (k, stage) in spike.stages.iter().enumerate() {
            let sum: u32 = shards
                .iter()
                .filter_map(|p| p.stages.get(k))
                .map(|s| s.users)
                .sum();
            assert_eq!(sum, stage.users);
            assert!(shards.iter().all(|p| p
                .stages
                .get(k)
                .is_none_or(|s| s.ramp == stage.ramp && s.hold == stage.hold)));
        }
        // Shard 15 gets no user in the 10-user stages but 31 in the spike; its trailing
        // 0-user stage is dropped, its leading one kept (timing).
        assert_eq!(shards[15].test_plan(), "0,5s;0,30s;31,2s;31,60s;0,0");
        assert_eq!(shards[0].stages.len(), 3);
        let phases: Vec<_> = shards[15].phases().iter().map(|p| p.name.clone()).collect();
        let full: Vec<_> = spike.phases().iter().map(|p| p.name.clone()).collect();
        assert_eq!(phases, full[..4]);
        let smoke = Profiles::builtin().get("smoke").unwrap().clone();
        assert_eq!(shard_profile(&smoke, spec(0, 2)).unwrap().max_users(), 1);
        let e = shard_profile(&smoke, spec(1, 2)).unwrap_err();
        assert_eq!(e.code, 2);
        assert!(e.message.contains("peaks at 1 users"), "{}", e.message);
    }

    #[test]
    fn open_model_shards_split_the_rate() {
        let toml = "[profiles.open]\nstages = [{ rate = \"90/s\", users = 10, ramp = \"2s\", hold = \"5s\" }, { rate = \"30/s\", users = 10, hold = \"5s\" }]\n";
        let open = Profiles::from_toml(toml, "p.toml").unwrap();
        let open = open.get("open").unwrap();
        assert!(open.is_open());
        let shards: Vec<Profile> = (0..4)
            .map(|i| shard_profile(open, spec(i, 4)).unwrap())
            .collect();
        for (k, stage) in open.stages.iter().enumerate() {
            let sum: f64 = shards.iter().map(|p| p.stages[k].rate.unwrap()).sum();
            assert!((sum - stage.rate.unwrap()).abs() < 1e-9);
            assert!(shards.iter().all(|p| p.stages[k].users == 3));
        }
        let fp = plan_fingerprint(open);
        assert!(fp.ends_with(" @ 90,30/s"), "{fp}");
    }

    #[test]
    fn run_ids_and_start_times() {
        assert!(parse_run_id("nightly-2026_11").is_ok());
        for bad in ["", "a b", "x@y", &"a".repeat(41)] {
            assert!(parse_run_id(bad).is_err(), "{bad:?}");
        }
        let now = parse_start_at("2026-11-22T10:00:00Z").unwrap();
        let later = parse_start_at("2026-11-22T11:00:00+01:00").unwrap();
        assert_eq!(start_delay(later, now).unwrap(), Duration::ZERO);
        let soon = now + time::Duration::seconds(3);
        assert_eq!(start_delay(soon, now).unwrap(), Duration::from_secs(3));
        let late = now - time::Duration::seconds(2);
        assert_eq!(start_delay(late, now).unwrap(), Duration::ZERO);
        let stale = now - time::Duration::seconds(30);
        assert!(start_delay(stale, now)
            .unwrap_err()
            .message
            .contains("in the past"));
        let far = now + time::Duration::hours(25);
        assert!(start_delay(far, now).unwrap_err().message.contains("24 h"));
        assert!(parse_start_at("tomorrow").is_err());
    }
}
