//! The auth flows as Goose transactions: each virtual user signs up once with a unique
//! identity, logs in, then loops: every iteration picks validate, login, refresh or logout at
//! random by the profile's weights (a shuffled deck per user, seeded from the run's `--seed`),
//! so any window of the run has the profile's mix. A signup, login or refresh the target
//! answers with a failure makes the user back off (exponential, capped, jittered) before its
//! next request. Every request is timed
//! here, into the HDR [`Recorder`], and its success decided by the contract — and Goose is told
//! the same verdict, so both sets of counts agree.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goose::goose::{GooseUser, Scenario, Transaction};
use goose::prelude::TransactionResult;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::http1;
use super::pacing::{Pace, Pacer};
use super::recorder::{Flow, Recorder};
use super::steps::Session;
use crate::contract::{Contract, Encoding, Values, Var, REFRESH_SLOT, TOKEN_SLOT};
use crate::profile::Weights;

pub use crate::record::SECURITY_FINDING;

/// Largest response body read; beyond it the body is dropped (a hostile 100 MB body is never
/// buffered whole).
pub const BODY_LIMIT: usize = 1 << 20;

/// What every user of a run shares.
pub struct FlowContext {
    pub contract: Contract,
    pub recorder: Arc<Recorder>,
    pub run_id: String,
    /// Generated per run; never written anywhere.
    pub password: String,
    /// Added to Goose's user index (shards use disjoint ranges).
    pub user_offset: usize,
    /// Open model: hands out intended send times for the looped flows.
    pub pacer: Option<Arc<Pacer>>,
    /// Header names (lower case) whose values are secret (`--redact`): sent as sensitive
    /// headers and replaced by `[redacted]` in anything kept.
    pub redact_headers: Vec<String>,
    /// Weights of the looped flows, zero for flows the contract lacks.
    pub weights: Weights,
    /// Seeds every user's flow picker and backoff jitter (`--seed`).
    pub seed: u64,
    /// The one HTTP client every user sends with: no redirects followed, no cookies.
    pub client: reqwest::Client,
    /// The contract's literal paths joined once onto the host ([`literal_urls`]): a step
    /// whose path has no placeholder is sent without parsing a URL.
    pub literal_urls: HashMap<String, url::Url>,
    /// The lean transport's target (`--transport lean`, an `http://` host): each user sends
    /// on its own connection ([`http1::Conn`]); `None` sends through Goose.
    pub origin: Option<http1::Origin>,
    /// A lean request slower than this is a `timeout` (Goose's client has it built in).
    pub request_timeout: Duration,
}

/// Every literal step path of `contract` (pre-steps included) as an absolute URL on `host`.
/// Paths with placeholders (and any that do not join) are left to be joined per request.
pub fn literal_urls(contract: &Contract, host: &url::Url) -> HashMap<String, url::Url> {
    contract
        .endpoints()
        .into_iter()
        .flat_map(|(_, ep)| ep.steps())
        .filter_map(|step| {
            let path = step.path.literal()?;
            Some((path.to_string(), host.join(path).ok()?))
        })
        .collect()
}

/// First backoff delay after a failing signup, login or refresh; it doubles with every
/// further consecutive failure up to [`BACKOFF_CAP`], and the delay actually waited is drawn
/// uniformly from its upper half (jitter). Against an endpoint that always fails a user sends
/// about one attempt per 2.5–5 s once the cap is reached, and at most 6 in its first 5 s.
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Longest backoff delay.
pub const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// Longest single sleep inside a transaction: a backing-off user returns to Goose this often,
/// so the end of the run is never held up by a backoff.
const BACKOFF_SLICE: Duration = Duration::from_millis(250);

/// The backoff before the next attempt after `failures` consecutive failures (≥ 1):
/// `min(cap, base · 2^(failures−1))`, jittered into its upper half by `unit` ∈ [0, 1).
pub fn backoff_delay(failures: u32, unit: f64) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let full = exp.min(BACKOFF_CAP);
    full / 2 + full.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
}

/// One virtual user's state (Goose session data): its session (identity, captures, cookie
/// jar) and its loop state.
#[derive(Clone, Default)]
struct UserState {
    session: Session,
    /// Picks the looped flow and jitters backoff; seeded from the run seed and user index.
    rng: Option<StdRng>,
    /// Cards left in this user's deck of looped flows (see [`UserState::pick`]).
    deck: [u64; 4],
    /// Consecutive failures of signup, login or refresh.
    failures: u32,
    /// Backing off: the next request waits until then.
    retry_at: Option<Instant>,
    /// Paired run (`ab --paired`): which side this state belongs to, the other side's state
    /// (parked while this one is active), and the side picker (carried by the active state).
    side: usize,
    parked: Option<Box<UserState>>,
    pair: Option<PairPicker>,
}

/// Picks the side of a paired user's next iteration: every two iterations hold one of each
/// side, in a random order, so both sides see the same number of iterations and the same
/// moments.
#[derive(Clone)]
struct PairPicker {
    rng: StdRng,
    next: Option<usize>,
}

impl PairPicker {
    fn pick(&mut self) -> usize {
        match self.next.take() {
            Some(side) => side,
            None => {
                let side = usize::from(self.rng.gen::<bool>());
                self.next = Some(1 - side);
                side
            }
        }
    }
}

/// The flows a loop iteration can pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Looped {
    Validate,
    Login,
    Refresh,
    Logout,
}

impl UserState {
    /// Picks the next looped flow at random by weight (validate when every weight is 0).
    ///
    /// Like drawing cards from a shuffled deck that holds each flow's weight (reduced by the
    /// weights' greatest common divisor; 45 validate, 4 login, 1 refresh for 90/8/2): the
    /// order is random, and every deck of iterations has exactly the profile's mix, so even
    /// the first seconds of a run on a slow target do. Weights whose reduced sum exceeds
    /// [`MAX_DECK`] are drawn independently instead.
    fn pick(&mut self, w: &Weights) -> Looped {
        const FLOWS: [Looped; 4] = [
            Looped::Validate,
            Looped::Login,
            Looped::Refresh,
            Looped::Logout,
        ];
        let weights = [w.validate, w.login, w.refresh, w.logout].map(u64::from);
        let divisor = weights.iter().fold(0, |g, &x| gcd(g, x));
        if divisor == 0 {
            return Looped::Validate;
        }
        let reduced = weights.map(|x| x / divisor);
        let deck_size: u64 = reduced.iter().sum();
        let Some(rng) = self.rng.as_mut() else {
            return Looped::Validate;
        };
        let draw_from = if deck_size > MAX_DECK {
            weights
        } else {
            if self.deck.iter().sum::<u64>() == 0 {
                self.deck = reduced;
            }
            self.deck
        };
        let mut x = rng.gen_range(0..draw_from.iter().sum::<u64>());
        for (i, count) in draw_from.iter().enumerate() {
            if x < *count {
                if deck_size <= MAX_DECK {
                    self.deck[i] -= 1;
                }
                return FLOWS[i];
            }
            x -= count;
        }
        Looped::Validate
    }

    /// Records the result of a signup, login or refresh: success clears the backoff, a
    /// failure the target answered (an unexpected status, no token) schedules the next
    /// attempt. Transport failures (connect, timeout) are not backed off: they are the target
    /// being down, and the run keeps measuring that as densely as before.
    fn settle(&mut self, ok: bool, answered: bool) {
        if ok {
            self.failures = 0;
            self.retry_at = None;
            return;
        }
        if !answered {
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let unit = self.rng.as_mut().map_or(0.5, |r| r.gen::<f64>());
        self.retry_at = Some(Instant::now() + backoff_delay(self.failures, unit));
    }
}

/// Largest deck of looped flows (reduced weights' sum) drawn without replacement.
pub const MAX_DECK: u64 = 10_000;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The per-user generator: the run seed mixed with the user index.
fn user_rng(seed: u64, index: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The user's state as Goose keeps it (session data): boxed, so taking it out for a
/// transaction and putting it back moves a pointer, not the state (it is several hundred
/// bytes, and this happens for every request).
#[derive(Clone, Default)]
struct Slot(Option<Box<UserState>>);

/// One virtual user's state, taken out of Goose for a transaction and put back after it
/// (no clone, no copy per transaction).
fn take_state(user: &mut GooseUser) -> Box<UserState> {
    user.get_session_data_mut::<Slot>()
        .and_then(|slot| slot.0.take())
        .unwrap_or_default()
}

fn put_state(user: &mut GooseUser, st: Box<UserState>) {
    match user.get_session_data_mut::<Slot>() {
        Some(slot) => slot.0 = Some(st),
        None => user.set_session_data(Slot(Some(st))),
    }
}

/// The user's state where Goose keeps it.
fn state_mut(user: &mut GooseUser) -> Option<&mut UserState> {
    user.get_session_data_mut::<Slot>()
        .and_then(|slot| slot.0.as_deref_mut())
}

impl FlowContext {
    /// Registers the run-wide secrets with [`crate::secrets`]: the password and the value of
    /// every secret header that does not depend on a user (per-user parts such as the token are
    /// registered when captured).
    pub fn register_secrets(&self) {
        crate::secrets::register(&self.password);
        let values = Values {
            email: "",
            username: "",
            password: &self.password,
            run: &self.run_id,
            user: "",
            origin: "",
            captures: &[],
        };
        for (k, t) in &self.contract.headers {
            if self.is_redacted(k) {
                crate::secrets::register(&t.render(&values, Encoding::Raw));
            }
        }
    }

    async fn signup(&self, user: &mut GooseUser) -> TransactionResult {
        // The run's shared client follows no redirects (see `attack::http_client`).
        user.client = self.client.clone();
        let index = (user.weighted_users_index + self.user_offset).to_string();
        let origin = user.base_url.origin().ascii_serialization();
        let mut st = Box::new(UserState {
            session: Session::new(&self.contract, &self.run_id, index, origin),
            rng: Some(user_rng(
                self.seed,
                (user.weighted_users_index + self.user_offset) as u64,
            )),
            ..UserState::default()
        });
        self.recorder.user_started();
        let r = self
            .call(
                user,
                Flow::Signup,
                &self.contract.signup,
                &mut st.session,
                None,
            )
            .await;
        if let Ok(reply) = &r {
            st.settle(reply.ok, reply.status.is_some());
        }
        put_state(user, st);
        r.map(|_| ())
    }

    /// One loop iteration: wait out a backoff (in short slices, so Goose can stop the user),
    /// else pick a flow by weight and run it.
    async fn iteration(&self, user: &mut GooseUser) -> TransactionResult {
        let Some(st) = state_mut(user) else {
            return Ok(());
        };
        if let Some(at) = st.retry_at {
            let now = Instant::now();
            if now < at {
                tokio::time::sleep((at - now).min(BACKOFF_SLICE)).await;
                return Ok(());
            }
            // The wait is over: this iteration's request is a delayed retry.
            st.retry_at = None;
            self.recorder.retry_delayed();
        }
        let flow = st.pick(&self.weights);
        match flow {
            Looped::Validate => self.validate(user).await,
            Looped::Login => self.loop_login(user).await,
            Looped::Refresh => self.refresh(user).await,
            Looped::Logout => self.logout(user).await,
        }
    }

    /// The next intended send time: `Some(None)` in the closed model, `Some(Some(t))` when
    /// paced, `None` when this iteration must not send (dropped arrival, schedule over).
    async fn pace(&self) -> Option<Option<Instant>> {
        let Some(pacer) = &self.pacer else {
            return Some(None);
        };
        match pacer.next().await {
            Pace::Go { intended } => Some(Some(intended)),
            Pace::Dropped => None,
            Pace::Done => {
                // Nothing left to send: idle until Goose stops the user.
                tokio::time::sleep(Duration::from_millis(200)).await;
                None
            }
        }
    }

    /// The on-start login; it also tells the pacer this user is ready.
    async fn login(&self, user: &mut GooseUser) -> TransactionResult {
        let result = self.login_at(user, None).await;
        if let Some(p) = &self.pacer {
            p.user_ready();
        }
        result
    }

    async fn loop_login(&self, user: &mut GooseUser) -> TransactionResult {
        match self.pace().await {
            Some(at) => self.login_at(user, at).await,
            None => Ok(()),
        }
    }

    async fn login_at(&self, user: &mut GooseUser, at: Option<Instant>) -> TransactionResult {
        let mut st = take_state(user);
        let r = self.login_with(user, &mut st, at).await;
        put_state(user, st);
        r
    }

    async fn login_with(
        &self,
        user: &mut GooseUser,
        st: &mut UserState,
        at: Option<Instant>,
    ) -> TransactionResult {
        let reply = self
            .call(user, Flow::Login, &self.contract.login, &mut st.session, at)
            .await?;
        st.session.logged_in = reply.ok;
        if !reply.ok {
            st.session.captures[TOKEN_SLOT] = None;
        }
        st.settle(reply.ok, reply.status.is_some());
        Ok(())
    }

    async fn validate(&self, user: &mut GooseUser) -> TransactionResult {
        let Some(at) = self.pace().await else {
            return Ok(());
        };
        let mut st = take_state(user);
        let r = if st.session.logged_in {
            self.call(
                user,
                Flow::Validate,
                &self.contract.validate,
                &mut st.session,
                at,
            )
            .await
            .map(|reply| {
                if reply.status == Some(401) {
                    st.session.logged_in = false;
                    st.session.captures[TOKEN_SLOT] = None;
                }
            })
        } else {
            self.login_with(user, &mut st, at).await
        };
        put_state(user, st);
        r
    }

    async fn refresh(&self, user: &mut GooseUser) -> TransactionResult {
        let Some(ep) = &self.contract.refresh else {
            return Ok(());
        };
        let Some(at) = self.pace().await else {
            return Ok(());
        };
        let mut st = take_state(user);
        let needs_refresh_token = ep.steps().any(|s| {
            s.templates()
                .iter()
                .any(|t| t.uses(Var::Capture(REFRESH_SLOT)))
        });
        let r = if !st.session.logged_in || (needs_refresh_token && !st.session.has_refresh()) {
            self.login_with(user, &mut st, at).await
        } else {
            match self
                .call(user, Flow::Refresh, ep, &mut st.session, at)
                .await
            {
                Ok(reply) => {
                    if !reply.ok {
                        st.session.log_out();
                    }
                    st.settle(reply.ok, reply.status.is_some());
                    Ok(())
                }
                Err(e) => Err(e),
            }
        };
        put_state(user, st);
        r
    }

    async fn logout(&self, user: &mut GooseUser) -> TransactionResult {
        let Some(ep) = &self.contract.logout else {
            return Ok(());
        };
        let Some(at) = self.pace().await else {
            return Ok(());
        };
        let mut st = take_state(user);
        if !st.session.logged_in {
            let r = self.login_with(user, &mut st, at).await;
            put_state(user, st);
            return r;
        }
        // The credentials about to be revoked (token, cookies), for the reuse check.
        let mut before = st.session.clone();
        let r = match self.call(user, Flow::Logout, ep, &mut st.session, at).await {
            Ok(reply) if reply.ok => {
                // Reuse the credentials just revoked: they must be rejected at once.
                let mut reuse = self.contract.validate.clone();
                reuse.success = vec![401, 403];
                reuse.send_token = Some(true).filter(|_| self.contract.auth.is_some());
                reuse.captures.clear();
                reuse.expect.clear();
                reuse.pre.clear();
                self.call(user, Flow::Reuse, &reuse, &mut before, None)
                    .await
                    .map(|_| ())
            }
            other => other.map(|_| ()),
        };
        st.session.log_out();
        put_state(user, st);
        r
    }
}

macro_rules! tx {
    ($ctx:expr, $method:ident) => {{
        let ctx = $ctx.clone();
        Transaction::new(Arc::new(move |user| {
            let ctx = ctx.clone();
            Box::pin(async move { ctx.$method(user).await })
        }))
        .set_name(stringify!($method))
    }};
}

/// Flows a run with this contract and these weights produces.
pub fn active_flows(contract: &Contract, w: &Weights) -> Vec<Flow> {
    let mut v = vec![Flow::Signup, Flow::Login, Flow::Validate];
    if contract.refresh.is_some() && w.refresh > 0 {
        v.push(Flow::Refresh);
    }
    if contract.logout.is_some() && w.logout > 0 {
        v.push(Flow::Logout);
        v.push(Flow::Reuse);
    }
    if contract.has_pre_steps() {
        v.push(Flow::Prepare);
    }
    v
}

/// The looped flows' weights for this contract: flows it lacks weigh 0.
pub fn effective_weights(contract: &Contract, w: &Weights) -> Weights {
    Weights {
        validate: w.validate,
        login: w.login,
        refresh: if contract.refresh.is_some() {
            w.refresh
        } else {
            0
        },
        logout: if contract.logout.is_some() {
            w.logout
        } else {
            0
        },
    }
}

/// The Goose scenario: signup and login once per user, then the weighted loop.
pub fn scenario(ctx: Arc<FlowContext>) -> Result<Scenario, goose::GooseError> {
    let stop = {
        let ctx = ctx.clone();
        Transaction::new(Arc::new(move |_user| {
            let ctx = ctx.clone();
            Box::pin(async move {
                ctx.recorder.user_stopped();
                Ok(())
            })
        }))
        .set_name("stop")
        .set_on_stop()
    };
    let mut s = Scenario::new("auth")
        .register_transaction(tx!(ctx, signup).set_on_start().set_sequence(1))
        .register_transaction(tx!(ctx, login).set_on_start().set_sequence(2))
        .register_transaction(stop);
    // One looped transaction that picks its flow per iteration (Goose's own weighting runs
    // the transactions in a fixed order, front-loading the rare ones).
    s = s.register_transaction(tx!(ctx, iteration));
    Ok(s)
}

/// The two sides of a paired run (`ab --paired`): one context (recorder, identities) and one
/// base URL per side, baseline first. Every virtual user signs up and logs in on both sides,
/// then alternates its iterations between them ([`PairPicker`]); its Goose base URL is
/// switched to the side's before each, so each side's requests go to its own host and into
/// its own recorder.
pub struct Pair {
    pub sides: [Arc<FlowContext>; 2],
    pub urls: [url::Url; 2],
}

impl Pair {
    /// Makes `side`'s state the active one (parking the other) and points the user at its host.
    fn activate(&self, user: &mut GooseUser, side: usize) {
        let mut st = take_state(user);
        if st.side != side {
            if let Some(mut other) = st.parked.take() {
                other.pair = st.pair.take();
                other.parked = Some(st);
                st = other;
            }
        }
        put_state(user, st);
        user.base_url = self.urls[side].clone();
    }

    /// Signs the user up on both sides (baseline first), each side's state built by its own
    /// context; the first error is returned after both were tried.
    async fn signup(&self, user: &mut GooseUser) -> TransactionResult {
        let mut states: Vec<Box<UserState>> = Vec::with_capacity(2);
        let mut first_err = None;
        for (side, ctx) in self.sides.iter().enumerate() {
            user.base_url = self.urls[side].clone();
            let r = ctx.signup(user).await;
            let mut st = take_state(user);
            st.side = side;
            states.push(st);
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        let candidate = states.pop().unwrap_or_default();
        let mut baseline = states.pop().unwrap_or_default();
        let index = (user.weighted_users_index + self.sides[0].user_offset) as u64;
        baseline.parked = Some(candidate);
        baseline.pair = Some(PairPicker {
            rng: user_rng(self.sides[0].seed ^ 0x5041_4952, index),
            next: None,
        });
        put_state(user, baseline);
        user.base_url = self.urls[0].clone();
        first_err.map_or(Ok(()), Err)
    }

    async fn login(&self, user: &mut GooseUser) -> TransactionResult {
        let mut first_err = None;
        for side in 0..2 {
            self.activate(user, side);
            if let Err(e) = self.sides[side].login(user).await {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    async fn iteration(&self, user: &mut GooseUser) -> TransactionResult {
        let side = state_mut(user)
            .and_then(|st| st.pair.as_mut())
            .map_or(0, PairPicker::pick);
        self.activate(user, side);
        self.sides[side].iteration(user).await
    }
}

/// The Goose scenario of a paired run: signup and login once per user on both sides, then
/// the loop alternating between the sides.
pub fn paired_scenario(pair: Arc<Pair>) -> Result<Scenario, goose::GooseError> {
    let stop = {
        let pair = pair.clone();
        Transaction::new(Arc::new(move |_user| {
            let pair = pair.clone();
            Box::pin(async move {
                for ctx in &pair.sides {
                    ctx.recorder.user_stopped();
                }
                Ok(())
            })
        }))
        .set_name("stop")
        .set_on_stop()
    };
    Ok(Scenario::new("auth")
        .register_transaction(tx!(pair, signup).set_on_start().set_sequence(1))
        .register_transaction(tx!(pair, login).set_on_start().set_sequence(2))
        .register_transaction(stop)
        .register_transaction(tx!(pair, iteration)))
}

/// A per-run password that satisfies common strength rules (letters, digits, a symbol).
pub fn generate_password() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    format!(
        "Lt-{}-9z",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 20)
    )
}

/// The run's time budget check: Goose should end by itself; this is the bound if it does not.
pub fn watchdog_limit(planned: Duration) -> Duration {
    planned + Duration::from_secs(30) + planned / 10
}

#[cfg(test)]
mod tests;
