//! Load profiles (smoke / load / stress / spike / custom) → the load shape Goose runs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::error::Failure;
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

/// One stage of a closed-model shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub users: u32,
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
    users: u32,
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
            Failure::bad_input(format!("{source}: {}", e.to_string().replace('\n', " ")))
        })?;
        let default_weights = file.weights.unwrap_or_default();
        let mut profiles = BTreeMap::new();
        for (name, p) in file.profiles {
            let at = |what: &str| format!("{source}: profile '{name}': {what}");
            if p.stages.is_empty() {
                return Err(Failure::bad_input(at("needs at least one stage")));
            }
            let mut stages = Vec::new();
            for (i, s) in p.stages.into_iter().enumerate() {
                let dur = |field: &str, v: &str| {
                    parse_duration(v)
                        .map(round_up_secs)
                        .map_err(|e| Failure::bad_input(at(&format!("stages[{i}].{field}: {e}"))))
                };
                if s.users == 0 || s.users > 1_000_000 {
                    return Err(Failure::bad_input(at(&format!(
                        "stages[{i}].users must be between 1 and 1000000"
                    ))));
                }
                stages.push(Stage {
                    users: s.users,
                    ramp: dur("ramp", &s.ramp)?,
                    hold: dur("hold", &s.hold)?,
                    phase: s.phase.unwrap_or_else(|| format!("stage {}", i + 1)),
                });
            }
            if stages.iter().all(|s| s.hold.is_zero() && s.ramp.is_zero()) {
                return Err(Failure::bad_input(at("total duration is zero")));
            }
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
                let text = std::fs::read_to_string(p).map_err(|e| {
                    Failure::bad_input(format!("{}: cannot read profiles file: {e}", p.display()))
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

    /// Total planned duration.
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
            if !(f.is_finite() && f > 0.0 && f <= 100.0) {
                return Err(Failure::bad_input(format!(
                    "--scale {f}: must be a number in (0, 100]"
                )));
            }
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
            if n == 0 {
                return Err(Failure::bad_input("--users must be at least 1"));
            }
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
        Ok(p)
    }

    /// Goose's `--test-plan` text: `users,secs` per ramp and hold, ending with `0,0`.
    pub fn test_plan(&self) -> String {
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
        let (mut t, mut users) = (0.0, 0u32);
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
                format!(
                    "{} users (ramp {}, hold {})",
                    s.users,
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
            .contains("known: load, smoke, spike, stress"));
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
                scale: None,
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
