//! Load profiles (smoke / load / stress / spike / custom) → the load shape Goose runs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::error::Failure;
use crate::limits;
use crate::record::Phase;
use crate::units::{format_duration, parse_duration};

/// The profiles compiled into the binary (`scenarios/profiles.toml`).
pub const DEFAULT_PROFILES_TOML: &str = include_str!("../scenarios/profiles.toml");

/// How often each looping flow runs relative to the others.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    #[serde(default)]
    pub validate: u32,
    #[serde(default)]
    pub login: u32,
    #[serde(default)]
    pub refresh: u32,
    #[serde(default)]
    pub logout: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            validate: 90,
            login: 8,
            refresh: 2,
            logout: 0,
        }
    }
}

/// One stage of a load shape: closed model (`users`) or open model (`rate`, arrivals/s,
/// with `users` the size of the pool that sends them).
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub users: u32,
    /// Arrivals per second (open model); `None` for a closed-model stage.
    pub rate: Option<f64>,
    pub ramp: Duration,
    pub hold: Duration,
    pub phase: String,
}

/// A named load shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub stages: Vec<Stage>,
    pub weights: Weights,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStage {
    users: Option<u32>,
    /// Arrivals per second, e.g. "200/s" (open model).
    rate: Option<String>,
    #[serde(default = "zero")]
    ramp: String,
    hold: String,
    phase: Option<String>,
}

fn zero() -> String {
    "0s".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProfile {
    #[serde(default)]
    description: String,
    stages: Vec<FileStage>,
    weights: Option<Weights>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfilesFile {
    weights: Option<Weights>,
    profiles: BTreeMap<String, FileProfile>,
}

/// A set of profiles, by name.
#[derive(Debug, Clone)]
pub struct Profiles {
    pub profiles: BTreeMap<String, Profile>,
}

/// Command-line changes to a profile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// Peak users; every stage is scaled in proportion.
    pub users: Option<u32>,
    /// Total hold time; every stage's hold is scaled in proportion.
    pub duration: Option<Duration>,
    /// Ramp of every stage.
    pub ramp: Option<Duration>,
    /// Multiplies users and durations (e.g. 0.1 for CI).
    pub scale: Option<f64>,
    /// Open model at this peak arrival rate (req/s); stage rates keep the profile's shape.
    pub rate: Option<f64>,
    /// Size of the user pool that sends the arrivals (open model).
    pub rate_users: Option<u32>,
}

/// Open model: the user pool starts (signs up, logs in) before the first scheduled arrival;
/// the schedule's clock starts when every user is ready, or after this lead-in at the latest.
pub const OPEN_LEAD: Duration = Duration::from_secs(3);

/// Default pool for an open-model rate: enough users for 100 ms of arrivals in flight,
/// 10 … 1000. A slower target makes sends late rather than wrong: latency is timed from the
/// intended send time, late sends are counted, and an achieved rate under 90% of the target
/// marks the run invalid. A bigger pool (`--rate-users`) costs setup (every user signs up and
/// logs in) and generator CPU.
pub fn pool_for(rate: f64) -> u32 {
    ((rate * 0.1).ceil() as u32).clamp(10, 1000)
}

/// Longest profile or phase name.
pub const MAX_NAME: usize = 64;

/// A profile name becomes part of the default output folder (`reports/<stamp>-<name>`), so it
/// is a plain file-name word: 1–64 of `A-Z a-z 0-9 . _ -`, not starting with `.` (no `/`,
/// `..`, NUL, spaces or control characters can reach a path).
pub fn check_profile_name(name: &str) -> Result<(), String> {
    let shown: String = name.escape_debug().take(80).collect();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(format!(
            "profile name '{shown}' must be 1 to {MAX_NAME} characters"
        ));
    }
    if name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(format!(
            "profile name '{shown}' may hold only letters, digits, '.', '_' and '-' (not first '.'): it names the output folder"
        ));
    }
    Ok(())
}

/// A stage's phase names reports and `during PHASE` rules: 1–64 of `A-Z a-z 0-9 _ -` and
/// spaces (the rule grammar's phase names), so every phase can be named in a rule.
pub fn check_phase_name(name: &str) -> Result<String, String> {
    let shown: String = name.escape_debug().take(80).collect();
    let trimmed = name.trim();
    if trimmed.is_empty()
        || trimmed.chars().count() > MAX_NAME
        || !trimmed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' '))
    {
        return Err(format!(
            "'{shown}' must be 1 to {MAX_NAME} letters, digits, '_', '-' or spaces"
        ));
    }
    Ok(trimmed.to_string())
}

fn round_up_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

impl Profiles {
    /// The built-in profiles.
    pub fn builtin() -> Profiles {
        // The compiled-in file is tested; failing here is a build defect.
        Profiles::from_toml(DEFAULT_PROFILES_TOML, "built-in profiles.toml")
            .expect("built-in profiles.toml is valid")
    }

    /// Parses a profiles file; errors name the source, profile and field.
    pub fn from_toml(text: &str, source: &str) -> Result<Profiles, Failure> {
        let file: ProfilesFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .and_then(|s| text.get(..s.start))
                .map(|t| format!(" at line {}", t.matches('\n').count() + 1))
                .unwrap_or_default();
            let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
            Failure::bad_input(format!("{source}: invalid profiles file{line}: {message}"))
        })?;
        let default_weights = file.weights.unwrap_or_default();
        let mut profiles = BTreeMap::new();
        for (name, p) in file.profiles {
            check_profile_name(&name).map_err(|e| Failure::bad_input(format!("{source}: {e}")))?;
            let at = |what: &str| format!("{source}: profile '{name}': {what}");
            if p.stages.is_empty() {
                return Err(Failure::bad_input(at("needs at least one stage")));
            }
            let mut stages = Vec::new();
            for (i, s) in p.stages.into_iter().enumerate() {
                let dur = |field: &str, v: &str| {
                    let name = format!("stages[{i}].{field}");
                    parse_duration(v)
                        .and_then(|d| limits::check_at_most(&name, v, d, limits::MAX_RUN))
                        .map(round_up_secs)
                        .map_err(|e| Failure::bad_input(at(&format!("{name}: {e}"))))
                };
                let rate =
                    match &s.rate {
                        Some(r) => Some(crate::limits::parse_rate(r).map_err(|e| {
                            Failure::bad_input(at(&format!("stages[{i}].rate: {e}")))
                        })?),
                        None => None,
                    };
                let users = match (s.users, rate) {
                    (Some(u), _) => u,
                    (None, Some(r)) => pool_for(r),
                    (None, None) => {
                        return Err(Failure::bad_input(at(&format!(
                            "stages[{i}] needs `users` (closed model) or `rate` (open model)"
                        ))))
                    }
                };
                if users == 0 || users > limits::MAX_USERS {
                    return Err(Failure::bad_input(at(&format!(
                        "stages[{i}].users must be between 1 and {} users (got {users})",
                        limits::MAX_USERS
                    ))));
                }
                stages.push(Stage {
                    users,
                    rate,
                    ramp: dur("ramp", &s.ramp)?,
                    hold: dur("hold", &s.hold)?,
                    phase: match s.phase {
                        Some(ph) => check_phase_name(&ph).map_err(|e| {
                            Failure::bad_input(at(&format!("stages[{i}].phase: {e}")))
                        })?,
                        None => format!("stage {}", i + 1),
                    },
                });
            }
            if stages.iter().any(|s| s.rate.is_some()) && stages.iter().any(|s| s.rate.is_none()) {
                return Err(Failure::bad_input(at(
                    "mixes `rate` and `users`-only stages; give every stage a rate, or none",
                )));
            }
            if stages.iter().all(|s| s.hold.is_zero() && s.ramp.is_zero()) {
                return Err(Failure::bad_input(at("total duration is zero")));
            }
            let total: Duration = stages.iter().map(|s| s.ramp + s.hold).sum();
            limits::run_length("stages", total).map_err(|e| Failure::bad_input(at(&e)))?;
            let weights = p.weights.unwrap_or_else(|| default_weights.clone());
            if weights.validate + weights.login + weights.refresh + weights.logout == 0 {
                return Err(Failure::bad_input(at("weights are all zero")));
            }
            profiles.insert(
                name.clone(),
                Profile {
                    name,
                    description: p.description,
                    stages,
                    weights,
                },
            );
        }
        Ok(Profiles { profiles })
    }

    /// Loads `--profiles FILE`, or the built-in set.
    pub fn load(path: Option<&std::path::Path>) -> Result<Profiles, Failure> {
        match path {
            None => Ok(Profiles::builtin()),
            Some(p) => {
                let text =
                    crate::input::read_text(p, crate::input::MAX_INPUT_BYTES).map_err(|e| {
                        Failure::bad_input(format!(
                            "{}: cannot read profiles file: {e}",
                            p.display()
                        ))
                    })?;
                Profiles::from_toml(&text, &p.display().to_string())
            }
        }
    }

    pub fn get(&self, name: &str) -> Result<&Profile, Failure> {
        self.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            Failure::bad_input(format!(
                "unknown profile '{name}' (known: {})",
                known.join(", ")
            ))
        })
    }
}

impl Profile {
    /// Peak users over all stages.
    pub fn max_users(&self) -> u32 {
        self.stages.iter().map(|s| s.users).max().unwrap_or(0)
    }

    /// Total planned duration of the stages (an open model adds [`OPEN_LEAD`] before them).
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.ramp + s.hold).sum()
    }

    /// End of the first ramp: when early aborts may start judging.
    pub fn first_ramp_end(&self) -> Duration {
        self.stages.first().map(|s| s.ramp).unwrap_or_default()
    }

    /// The profile with command-line overrides applied; errors for impossible values.
    pub fn with_overrides(&self, o: &Overrides) -> Result<Profile, Failure> {
        let mut p = self.clone();
        if let Some(f) = o.scale {
            limits::scale(&f.to_string()).map_err(Failure::bad_input)?;
            for s in &mut p.stages {
                s.users = ((f64::from(s.users) * f).round() as u32).max(1);
                let scale = |d: Duration| {
                    if d.is_zero() {
                        d
                    } else {
                        round_up_secs(d.mul_f64(f)).max(Duration::from_secs(1))
                    }
                };
                s.ramp = scale(s.ramp);
                s.hold = scale(s.hold);
            }
        }
        if let Some(n) = o.users {
            limits::users("--users", &n.to_string()).map_err(Failure::bad_input)?;
            let peak = f64::from(p.max_users().max(1));
            for s in &mut p.stages {
                s.users = ((f64::from(s.users) * f64::from(n) / peak).round() as u32).max(1);
            }
        }
        if let Some(d) = o.duration {
            if d < Duration::from_secs(1) {
                return Err(Failure::bad_input("--duration must be at least 1s"));
            }
            let total: f64 = p.stages.iter().map(|s| s.hold.as_secs_f64()).sum();
            let n = p.stages.len() as f64;
            for s in &mut p.stages {
                let share = if total > 0.0 {
                    s.hold.as_secs_f64() / total
                } else {
                    1.0 / n
                };
                s.hold = round_up_secs(d.mul_f64(share));
            }
        }
        if let Some(r) = o.ramp {
            for s in &mut p.stages {
                s.ramp = round_up_secs(r);
            }
        }
        if let Some(rate) = o.rate {
            limits::rate("--rate", &format!("{rate}/s"), rate).map_err(Failure::bad_input)?;
            let peak = p
                .stages
                .iter()
                .map(|s| s.rate.unwrap_or(f64::from(s.users)))
                .fold(0.0, f64::max)
                .max(1e-9);
            for s in &mut p.stages {
                let shape = s.rate.unwrap_or(f64::from(s.users));
                s.rate = Some(rate * shape / peak);
            }
        }
        if p.is_open() {
            let pool = match o.rate_users {
                Some(n) => {
                    limits::users("--rate-users", &n.to_string()).map_err(Failure::bad_input)?
                }
                None => pool_for(p.schedule().peak()),
            };
            for s in &mut p.stages {
                s.users = pool;
            }
        }
        if p.max_users() > limits::MAX_USERS {
            return Err(Failure::bad_input(format!(
                "profile '{}' after --users/--scale peaks at {} users: at most {} users",
                p.name,
                p.max_users(),
                limits::MAX_USERS
            )));
        }
        limits::run_length(
            &format!("profile '{}' after --duration/--ramp/--scale", p.name),
            p.duration(),
        )
        .map_err(Failure::bad_input)?;
        Ok(p)
    }

    /// Open model: every stage has a rate.
    pub fn is_open(&self) -> bool {
        !self.stages.is_empty() && self.stages.iter().all(|s| s.rate.is_some())
    }

    /// The arrival schedule of an open-model profile (empty for a closed model).
    pub fn schedule(&self) -> crate::schedule::Schedule {
        use crate::schedule::{Schedule, Segment};
        let mut segments = Vec::new();
        let mut prev = 0.0;
        for s in &self.stages {
            let Some(r) = s.rate else { continue };
            if !s.ramp.is_zero() {
                segments.push(Segment {
                    secs: s.ramp.as_secs_f64(),
                    r0: prev,
                    r1: r,
                });
            }
            if !s.hold.is_zero() {
                segments.push(Segment {
                    secs: s.hold.as_secs_f64(),
                    r0: r,
                    r1: r,
                });
            }
            prev = r;
        }
        Schedule { segments }
    }

    /// Goose's `--test-plan` text: `users,secs` per ramp and hold, ending with `0,0`. An
    /// open-model profile starts its whole pool at once and holds it; the pacer sets the rate.
    pub fn test_plan(&self) -> String {
        if self.is_open() {
            let pool = self.max_users();
            let secs = (self.duration() + OPEN_LEAD).as_secs();
            return format!("{pool},0s;{pool},{secs}s;0,0");
        }
        let mut steps: Vec<String> = Vec::new();
        for s in &self.stages {
            steps.push(format!("{},{}s", s.users, s.ramp.as_secs()));
            if !s.hold.is_zero() {
                steps.push(format!("{},{}s", s.users, s.hold.as_secs()));
            }
        }
        steps.push("0,0".into());
        steps.join(";")
    }

    /// Phases for reports: each stage's ramp (if any) and hold.
    pub fn phases(&self) -> Vec<Phase> {
        let mut out = Vec::new();
        let lead = if self.is_open() {
            OPEN_LEAD.as_secs_f64()
        } else {
            0.0
        };
        let (mut t, mut users) = (lead, 0u32);
        for s in &self.stages {
            if !s.ramp.is_zero() {
                let end = t + s.ramp.as_secs_f64();
                out.push(Phase {
                    name: format!("{} ramp", s.phase),
                    start_s: t,
                    end_s: end,
                    users_from: users,
                    users_to: s.users,
                });
                t = end;
            }
            if !s.hold.is_zero() {
                let end = t + s.hold.as_secs_f64();
                out.push(Phase {
                    name: s.phase.clone(),
                    start_s: t,
                    end_s: end,
                    users_from: s.users,
                    users_to: s.users,
                });
                t = end;
            }
            users = s.users;
        }
        out
    }

    /// One line per stage, for `loadtest profiles` and run headers.
    pub fn describe(&self) -> String {
        let stages: Vec<String> = self
            .stages
            .iter()
            .map(|s| {
                let load = match s.rate {
                    Some(r) => format!("{r:.0}/s"),
                    None => format!("{} users", s.users),
                };
                format!(
                    "{load} (ramp {}, hold {})",
                    format_duration(s.ramp),
                    format_duration(s.hold)
                )
            })
            .collect();
        stages.join(" → ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_match_the_documented_defaults() {
        let p = Profiles::builtin();
        let smoke = p.get("smoke").unwrap();
        assert_eq!(
            (smoke.max_users(), smoke.duration()),
            (1, Duration::from_secs(30))
        );
        let load = p.get("load").unwrap();
        assert_eq!(load.max_users(), 100);
        assert_eq!(load.stages[0].hold, Duration::from_secs(120));
        let stress = p.get("stress").unwrap();
        assert_eq!(stress.max_users(), 500);
        assert_eq!(stress.stages[0].hold, Duration::from_secs(180));
        let spike = p.get("spike").unwrap();
        let users: Vec<u32> = spike.stages.iter().map(|s| s.users).collect();
        assert_eq!(users, vec![10, 500, 10]);
        assert!(p
            .get("nope")
            .unwrap_err()
            .message
            .contains("known: lifecycle, load, refresh-storm, smoke, spike, stress"));
    }

    #[test]
    fn test_plan_and_phases_follow_the_stages() {
        let spike = Profiles::builtin().get("spike").unwrap().clone();
        assert_eq!(
            spike.test_plan(),
            "10,5s;10,30s;500,2s;500,60s;10,0s;10,60s;0,0"
        );
        let phases = spike.phases();
        let names: Vec<&str> = phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["before ramp", "before", "spike ramp", "spike", "recovery"]
        );
        assert_eq!(phases[3].start_s, 37.0);
        assert_eq!(phases.last().unwrap().end_s, 157.0);
    }

    #[test]
    fn overrides_scale_users_and_durations() {
        let load = Profiles::builtin().get("load").unwrap().clone();
        let ci = load
            .with_overrides(&Overrides {
                scale: Some(0.1),
                ..Overrides::default()
            })
            .unwrap();
        assert_eq!(ci.max_users(), 10);
        assert_eq!(ci.stages[0].ramp, Duration::from_secs(3));
        assert_eq!(ci.stages[0].hold, Duration::from_secs(12));
        let custom = load
            .with_overrides(&Overrides {
                users: Some(7),
                duration: Some(Duration::from_secs(5)),
                ramp: Some(Duration::from_millis(1500)),
                ..Overrides::default()
            })
            .unwrap();
        assert_eq!(custom.test_plan(), "7,2s;7,5s;0,0");
        let spike = Profiles::builtin().get("spike").unwrap().clone();
        let small = spike
            .with_overrides(&Overrides {
                users: Some(50),
                ..Overrides::default()
            })
            .unwrap();
        let users: Vec<u32> = small.stages.iter().map(|s| s.users).collect();
        assert_eq!(users, vec![1, 50, 1]);
        assert!(load
            .with_overrides(&Overrides {
                scale: Some(-1.0),
                ..Overrides::default()
            })
            .is_err());
        assert!(load
            .with_overrides(&Overrides {
                users: Some(0),
                ..Overrides::default()
            })
            .is_err());
    }

    #[test]
    fn rate_turns_any_profile_into_an_open_model_with_its_shape() {
        let spike = Profiles::builtin().get("spike").unwrap().clone();
        let open = spike
            .with_overrides(&Overrides {
                rate: Some(500.0),
                ..Overrides::default()
            })
            .unwrap();
        assert!(open.is_open());
        let rates: Vec<f64> = open.stages.iter().map(|s| s.rate.unwrap()).collect();
        assert_eq!(rates, vec![10.0, 500.0, 10.0]);
        assert_eq!(open.max_users(), 50, "pool for 500/s");
        assert_eq!(open.test_plan(), "50,0s;50,160s;0,0");
        let sched = open.schedule();
        assert_eq!(sched.duration(), 157.0);
        let file = "[profiles.r]\nstages = [{ rate = \"200/s\", ramp = \"0s\", hold = \"10s\" }]";
        let p = Profiles::from_toml(file, "p.toml").unwrap();
        let r = p
            .get("r")
            .unwrap()
            .with_overrides(&Overrides::default())
            .unwrap();
        assert_eq!(r.schedule().total(), 2000);
        assert_eq!(r.max_users(), 20);
        let mixed = "[profiles.m]\nstages = [{ rate = \"5/s\", hold = \"1s\" }, { users = 3, hold = \"1s\" }]";
        assert!(Profiles::from_toml(mixed, "p.toml")
            .unwrap_err()
            .message
            .contains("mixes"));
    }

    #[test]
    fn bad_files_name_the_profile_and_field() {
        let e = Profiles::from_toml("[profiles.x]\nstages = []", "p.toml").unwrap_err();
        assert_eq!(e.code, 2);
        assert!(
            e.message
                .contains("p.toml: profile 'x': needs at least one stage"),
            "{}",
            e.message
        );
        let e = Profiles::from_toml(
            "[profiles.x]\nstages = [{ users = 5, hold = \"ten\" }]",
            "p.toml",
        )
        .unwrap_err();
        assert!(e.message.contains("stages[0].hold"), "{}", e.message);
        let e = Profiles::from_toml(
            "[profiles.x]\nstages = [{ users = 0, hold = \"1s\" }]",
            "p.toml",
        )
        .unwrap_err();
        assert!(e.message.contains("users must be between"), "{}", e.message);
        let e = Profiles::from_toml("[profiles.x]\nstagez = 1", "p.toml").unwrap_err();
        assert!(e.message.starts_with("p.toml:"), "{}", e.message);
    }
}
