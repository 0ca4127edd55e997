//! `loadtest profiles`: print the load profiles.

use std::path::Path;

use crate::error::Failure;
use crate::profile::Profiles;

pub fn run(path: Option<&Path>) -> Result<u8, Failure> {
    let profiles = Profiles::load(path)?;
    for p in profiles.profiles.values() {
        println!(
            "{:<8} {} s, peak {} users — {}",
            p.name,
            p.duration().as_secs(),
            p.max_users(),
            p.description
        );
        println!("         {}", p.describe());
        let w = &p.weights;
        println!(
            "         mix: validate {} · login {} · refresh {} · logout {}",
            w.validate, w.login, w.refresh, w.logout
        );
        println!("         goose test plan: {}", p.test_plan());
    }
    Ok(0)
}
