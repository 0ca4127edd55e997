use super::*;

#[test]
fn backoff_doubles_up_to_the_cap_and_jitters_in_the_upper_half() {
    assert_eq!(backoff_delay(1, 0.0), BACKOFF_BASE / 2);
    assert_eq!(backoff_delay(1, 1.0), BACKOFF_BASE);
    assert_eq!(backoff_delay(2, 1.0), BACKOFF_BASE * 2);
    assert_eq!(backoff_delay(3, 0.0), BACKOFF_BASE * 2);
    assert_eq!(backoff_delay(50, 1.0), BACKOFF_CAP);
    assert_eq!(backoff_delay(u32::MAX, 0.0), BACKOFF_CAP / 2);
}

fn user(seed: u64, index: u64) -> UserState {
    UserState {
        rng: Some(user_rng(seed, index)),
        ..UserState::default()
    }
}

#[test]
fn picks_follow_the_weights_and_repeat_with_the_seed() {
    let w = Weights {
        validate: 90,
        login: 8,
        refresh: 2,
        logout: 0,
    };
    let mut st = user(7, 3);
    let picks: Vec<Looped> = (0..20_000).map(|_| st.pick(&w)).collect();
    // Every deck of 50 (45 + 4 + 1) holds exactly the mix, in a random order.
    for deck in picks.chunks(50) {
        let n = |f: Looped| deck.iter().filter(|p| **p == f).count();
        assert_eq!(
            [
                n(Looped::Validate),
                n(Looped::Login),
                n(Looped::Refresh),
                n(Looped::Logout)
            ],
            [45, 4, 1, 0]
        );
    }
    assert_ne!(picks[..50], picks[50..100], "each deck is shuffled anew");
    let mut again = user(7, 3);
    let repeat: Vec<Looped> = (0..20_000).map(|_| again.pick(&w)).collect();
    assert_eq!(picks, repeat);
    let mut other = user(7, 4);
    let different: Vec<Looped> = (0..200).map(|_| other.pick(&w)).collect();
    assert_ne!(&picks[..200], &different[..]);
}

#[test]
fn huge_reduced_weights_are_drawn_independently() {
    let w = Weights {
        validate: 99_991,
        login: 9,
        refresh: 0,
        logout: 0,
    };
    let mut st = user(3, 0);
    let logins = (0..100_000)
        .filter(|_| st.pick(&w) == Looped::Login)
        .count();
    // Expected 9; Poisson tail beyond 40 is < 1e-12.
    assert!(logins < 40, "{logins}");
    let none = Weights {
        validate: 0,
        login: 0,
        refresh: 0,
        logout: 0,
    };
    assert_eq!(st.pick(&none), Looped::Validate);
}

#[test]
fn a_failure_schedules_a_retry_and_a_success_clears_it() {
    let mut st = user(1, 1);
    st.settle(false, false);
    assert_eq!(
        (st.failures, st.retry_at),
        (0, None),
        "a connect error is not backed off"
    );
    st.settle(false, true);
    st.settle(false, true);
    assert_eq!(st.failures, 2);
    let wait = st.retry_at.expect("backing off") - Instant::now();
    assert!(wait <= BACKOFF_BASE * 2);
    st.settle(true, true);
    assert_eq!((st.failures, st.retry_at), (0, None));
}
