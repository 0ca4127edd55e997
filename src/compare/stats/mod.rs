//! Statistics for comparing load-test runs: pure functions, no I/O, no panics.
//! Invalid input (empty slices, NaN or infinite values, alpha outside
//! `(0, 1)`, too few observations for the confidence asked) yields `None`.
//!
//! `a` is the baseline, `b` the candidate; every shift is candidate minus
//! baseline. For latency and throughput pass logarithms (`ln x`): a shift is
//! then a log ratio (`exp(shift) - 1` is the relative change) and a minimum
//! effect of `x` (5% = 0.05) is given as `ln(1 + x)`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Most pairs `m * n` the pairwise and exact methods accept; beyond it they
/// return `None` (NaN for [`mann_whitney_cdf`]) rather than use unbounded
/// memory. They are meant for a modest number of runs per side.
pub const MAX_PAIRS: usize = 1_000_000;

/// Largest smaller sample, `min(m, n)`, for the exact Mann-Whitney null
/// distribution (the float recurrence is accurate to ~1e-12 up to it; its
/// rounding error grows past it). Larger samples give `None`/NaN.
pub const MAX_EXACT_SMALL: usize = 200;

/// Relative slack when comparing an exact tail with `alpha / 2`, so that
/// rounding does not break exact equalities such as `1/20 == 0.1 / 2`.
const TAIL_SLACK: f64 = 1e-9;

fn all_finite(x: &[f64]) -> bool {
    x.iter().all(|v| v.is_finite())
}

fn valid_alpha(alpha: f64) -> bool {
    alpha > 0.0 && alpha < 1.0
}

/// Quantile of an ascending-sorted slice by linear interpolation
/// (Hyndman-Fan type 7, as in R and NumPy). `None` when `sorted` is empty
/// or `q` is not in `[0, 1]`. Sortedness is assumed, not checked.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let (lo, frac) = (h.floor() as usize, h - h.floor());
    let x_lo = *sorted.get(lo)?;
    match sorted.get(lo + 1) {
        Some(&x_hi) if frac > 0.0 => Some(x_lo + frac * (x_hi - x_lo)),
        _ => Some(x_lo),
    }
}

/// Median of `x` (mean of the middle two for an even length); `None` for
/// an empty slice or any non-finite value.
pub fn median(x: &[f64]) -> Option<f64> {
    let mut v = all_finite(x).then(|| x.to_vec())?;
    v.sort_by(f64::total_cmp);
    quantile(&v, 0.5)
}

/// All `m * n` differences `b[j] - a[i]`, sorted ascending.
fn pairwise_diffs(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    if a.is_empty() || b.is_empty() || !all_finite(a) || !all_finite(b) {
        return None;
    }
    let total = a.len().checked_mul(b.len()).filter(|&t| t <= MAX_PAIRS)?;
    let mut d = Vec::with_capacity(total);
    for &y in b {
        d.extend(a.iter().map(|&x| y - x));
    }
    d.sort_by(f64::total_cmp);
    Some(d)
}

/// Hodges-Lehmann shift estimate: the median of all pairwise differences
/// `b[j] - a[i]` (candidate minus baseline). `None` for empty input,
/// non-finite values or more than [`MAX_PAIRS`] pairs.
pub fn hodges_lehmann(a: &[f64], b: &[f64]) -> Option<f64> {
    quantile(&pairwise_diffs(a, b)?, 0.5).filter(|v| v.is_finite())
}

/// Exact null probabilities `P(U = u)`, `u = 0..=upto`, without ties: the
/// coefficients of the Gaussian binomial `[m+n choose m]_q = prod over
/// k = 1..=small of (1 - q^(big+k)) / (1 - q^k)`, truncated at degree
/// `upto` (Harding 1984), each step scaled by `k / (big+k)` so that the
/// values are probabilities, not counts.
fn null_pmf(m: usize, n: usize, upto: usize) -> Option<Vec<f64>> {
    let total = m.checked_mul(n).filter(|&t| t <= MAX_PAIRS)?;
    let (small, big) = (m.min(n), m.max(n));
    if small > MAX_EXACT_SMALL {
        return None;
    }
    let len = upto.min(total) + 1;
    let mut f = vec![0.0; len];
    f[0] = 1.0;
    for k in 1..=small {
        // Divide by (1 - q^k): a running sum with stride k.
        for j in k..len {
            f[j] += f[j - k];
        }
        // Multiply by (1 - q^s), backwards so as to read the old values.
        let s = big + k;
        for j in (s..len).rev() {
            f[j] -= f[j - s];
        }
        let scale = k as f64 / s as f64;
        f.iter_mut().for_each(|v| *v *= scale);
    }
    Some(f)
}

/// `P(U <= k)`, clamped to `[0, 1]`.
fn lower_tail(m: usize, n: usize, k: usize) -> Option<f64> {
    Some(null_pmf(m, n, k)?.iter().sum::<f64>().clamp(0.0, 1.0))
}

/// Mann-Whitney U of the candidate: the number of pairs with `b[j] > a[i]`,
/// ties counting 0.5, in `0..=m*n` (large: the candidate tends to be
/// larger). O(m*n) time, no allocation; 0 if a side is empty, NaN if any
/// value is NaN.
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> f64 {
    let score = |x: f64, y: f64| match y.partial_cmp(&x) {
        Some(std::cmp::Ordering::Greater) => 1.0,
        Some(std::cmp::Ordering::Equal) => 0.5,
        Some(std::cmp::Ordering::Less) => 0.0,
        None => f64::NAN,
    };
    a.iter()
        .flat_map(|&x| b.iter().map(move |&y| score(x, y)))
        .sum()
}

/// Exact null CDF `P(U <= u)` of Mann-Whitney U for sizes `m`, `n` (no
/// ties). A fractional `u` is rounded down, so a mid-rank U can be passed.
/// 0 for `u < 0`, 1 for `u >= m*n`; NaN for a NaN `u` or sizes beyond
/// [`MAX_PAIRS`] / [`MAX_EXACT_SMALL`].
pub fn mann_whitney_cdf(m: usize, n: usize, u: f64) -> f64 {
    let total = match m.checked_mul(n) {
        Some(t) if t <= MAX_PAIRS && !u.is_nan() => t,
        _ => return f64::NAN,
    };
    if u < 0.0 || u >= total as f64 {
        return if u < 0.0 { 0.0 } else { 1.0 };
    }
    let k = u.floor() as usize;
    let p = if 2 * k <= total {
        lower_tail(m, n, k)
    } else {
        // By symmetry P(U >= k + 1) = P(U <= total - k - 1).
        lower_tail(m, n, total - k - 1).map(|t| 1.0 - t)
    };
    p.unwrap_or(f64::NAN)
}

/// Critical value `c` and its exact tail `P(U <= c)`.
fn critical_with_tail(m: usize, n: usize, alpha_two_sided: f64) -> Option<(usize, f64)> {
    if m == 0 || n == 0 || !valid_alpha(alpha_two_sided) {
        return None;
    }
    let limit = alpha_two_sided / 2.0 * (1.0 + TAIL_SLACK);
    let (mut cum, mut best) = (0.0, None);
    for (u, p) in null_pmf(m, n, m.checked_mul(n)? / 2)?.iter().enumerate() {
        cum += p;
        if cum > limit {
            break;
        }
        best = Some((u, cum.clamp(0.0, 1.0)));
    }
    best
}

/// Exact two-sided critical value of the Mann-Whitney U test, from the
/// exact null distribution (computed, no tables): the largest `c` with
/// `P(U <= c) <= alpha_two_sided / 2`; H0 is rejected when `U <= c` or
/// `U >= m*n - c`. `None` when no such `c` exists (e.g. `m = n = 3` at
/// 0.05: `P(U <= 0) = 1/20 > 0.025`), for an empty sample, alpha outside
/// `(0, 1)`, or sizes beyond [`MAX_PAIRS`] / [`MAX_EXACT_SMALL`].
pub fn mann_whitney_critical(m: usize, n: usize, alpha_two_sided: f64) -> Option<usize> {
    critical_with_tail(m, n, alpha_two_sided).map(|(c, _)| c)
}

/// Exact two-sided p-value of the Mann-Whitney U test,
/// `min(1, 2 * min(P(U <= u), P(U >= u)))`. With ties the no-tie exact
/// distribution is applied to the mid-rank U (an approximation). `None` for
/// empty or non-finite input, or sizes beyond the exact limits.
pub fn mann_whitney_p(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() || !all_finite(a) || !all_finite(b) {
        return None;
    }
    let total = a.len().checked_mul(b.len()).filter(|&t| t <= MAX_PAIRS)? as f64;
    let u = mann_whitney_u(a, b);
    let k = u.min(total - u).max(0.0).floor() as usize;
    Some((2.0 * lower_tail(a.len(), b.len(), k)?).min(1.0))
}

/// Distribution-free shift estimate with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShiftEstimate {
    /// Hodges-Lehmann estimate (candidate minus baseline).
    pub estimate: f64,
    /// `D(c+1)` of the sorted pairwise differences.
    pub low: f64,
    /// `D(mn-c)` of the sorted pairwise differences.
    pub high: f64,
    /// Achieved confidence `1 - 2 * P(U <= c)`, at least `1 - alpha`.
    pub confidence: f64,
}

/// Hodges-Lehmann estimate with the Moses (Bauer) distribution-free
/// confidence interval for the shift `b - a`: with `D` the sorted `m*n`
/// differences `b[j] - a[i]` and `c = mann_whitney_critical(m, n, alpha)`,
/// the interval is `[D(c+1), D(mn-c)]` (1-based). `None` when `c` does not
/// exist (too few runs for `alpha`, e.g. one per side: the caller reports
/// inconclusive) or the input is invalid.
pub fn shift_estimate(a: &[f64], b: &[f64], alpha: f64) -> Option<ShiftEstimate> {
    let d = pairwise_diffs(a, b)?;
    let (c, tail) = critical_with_tail(a.len(), b.len(), alpha)?;
    let s = ShiftEstimate {
        estimate: quantile(&d, 0.5)?,
        low: *d.get(c)?,
        high: *d.get(d.len().checked_sub(c + 1)?)?,
        confidence: 1.0 - 2.0 * tail,
    };
    [s.estimate, s.low, s.high]
        .iter()
        .all(|v| v.is_finite())
        .then_some(s)
}

/// The `(low, high)` Moses interval of [`shift_estimate`].
pub fn shift_confidence_interval(a: &[f64], b: &[f64], alpha: f64) -> Option<(f64, f64)> {
    shift_estimate(a, b, alpha).map(|s| (s.low, s.high))
}

/// Bonferroni per-metric alpha, `alpha / metrics` (`alpha` for 0 metrics).
pub fn bonferroni(alpha: f64, metrics: usize) -> f64 {
    alpha / metrics.max(1) as f64
}

/// Default bootstrap block length: `max(1, round(n^(1/3)))`.
pub fn default_block_len(n: usize) -> usize {
    ((n as f64).cbrt().round() as usize).max(1)
}

/// Settings of [`moving_block_bootstrap`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapConfig {
    /// Block length, >= 1 (clamped to the series length); see
    /// [`default_block_len`].
    pub block_len: usize,
    /// Number of resamples, >= 1.
    pub resamples: usize,
    /// Two-sided alpha of the percentile interval, in `(0, 1)`.
    pub alpha: f64,
    /// `false`: `stat(b) - stat(a)`. `true`: `ln(stat(b) / stat(a))`,
    /// skipping resamples where either statistic is not positive.
    pub log_ratio: bool,
    /// RNG seed: the same seed gives the same result.
    pub seed: u64,
}

/// Result of [`moving_block_bootstrap`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapResult {
    /// Difference (or log ratio) of the statistic on the original series.
    pub estimate: f64,
    /// `alpha/2` percentile of the resampled values.
    pub low: f64,
    /// `1 - alpha/2` percentile of the resampled values.
    pub high: f64,
    /// Resamples that gave a usable value.
    pub resamples_used: usize,
}

/// Fills `out` with `ceil(n / block)` blocks of consecutive elements of `x`
/// from uniform random starts (overlapping, not circular), cut to `n`.
fn resample_blocks(x: &[f64], block: usize, rng: &mut StdRng, out: &mut Vec<f64>) {
    out.clear();
    let block = block.clamp(1, x.len());
    while out.len() < x.len() {
        let s = rng.gen_range(0..=x.len() - block);
        out.extend_from_slice(&x[s..s + block]);
    }
    out.truncate(x.len());
}

fn compare_stat(sa: f64, sb: f64, log_ratio: bool) -> Option<f64> {
    let v = match log_ratio {
        false => sb - sa,
        true if sa > 0.0 && sb > 0.0 => (sb / sa).ln(),
        true => return None,
    };
    v.is_finite().then_some(v)
}

/// Moving-block bootstrap of `stat(b) - stat(a)` (or `ln(stat(b)/stat(a))`)
/// for a single run per side, `a` and `b` being per-second series (e.g. the
/// per-second p95 latency of each run). Blocks keep the autocorrelation of
/// neighbouring seconds; the two sides are resampled independently.
///
/// Deterministic for a given seed (`StdRng::seed_from_u64`; the stream may
/// change across `rand` major versions). `None` for an empty or non-finite
/// series, invalid settings, an unusable statistic on the original data, or
/// when no resample gave a usable value.
pub fn moving_block_bootstrap(
    a: &[f64],
    b: &[f64],
    config: &BootstrapConfig,
    stat: impl Fn(&[f64]) -> f64,
) -> Option<BootstrapResult> {
    if a.is_empty() || b.is_empty() || !all_finite(a) || !all_finite(b) {
        return None;
    }
    if config.block_len == 0 || config.resamples == 0 || !valid_alpha(config.alpha) {
        return None;
    }
    let estimate = compare_stat(stat(a), stat(b), config.log_ratio)?;
    let mut rng = StdRng::seed_from_u64(config.seed);
    let (mut ra, mut rb) = (Vec::with_capacity(a.len()), Vec::with_capacity(b.len()));
    let mut values = Vec::with_capacity(config.resamples.min(1 << 16));
    for _ in 0..config.resamples {
        resample_blocks(a, config.block_len, &mut rng, &mut ra);
        resample_blocks(b, config.block_len, &mut rng, &mut rb);
        values.extend(compare_stat(stat(&ra), stat(&rb), config.log_ratio));
    }
    values.sort_by(f64::total_cmp);
    Some(BootstrapResult {
        estimate,
        low: quantile(&values, config.alpha / 2.0)?,
        high: quantile(&values, 1.0 - config.alpha / 2.0)?,
        resamples_used: values.len(),
    })
}

/// `P(|T| < t)` for Student's t with `df` ≥ 1 degrees of freedom: exact for integer `df` (the
/// finite trigonometric series of Abramowitz & Stegun 26.7.3–26.7.4).
pub fn student_t_abs_cdf(t: f64, df: u32) -> f64 {
    if df == 0 || t.is_nan() {
        return f64::NAN;
    }
    let theta = (t.abs() / f64::from(df).sqrt()).atan();
    let (s, c) = theta.sin_cos();
    let c2 = c * c;
    let (mut term, mut sum) = (1.0, 1.0);
    if df % 2 == 1 {
        for j in 1..=(df.saturating_sub(3) / 2) {
            term *= f64::from(2 * j) / f64::from(2 * j + 1) * c2;
            sum += term;
        }
        let series = if df == 1 { 0.0 } else { s * c * sum };
        (2.0 / std::f64::consts::PI * (theta + series)).clamp(0.0, 1.0)
    } else {
        for j in 1..=((df - 2) / 2) {
            term *= f64::from(2 * j - 1) / f64::from(2 * j) * c2;
            sum += term;
        }
        (s * sum).clamp(0.0, 1.0)
    }
}

/// Two-sided critical value of Student's t: the `t` with `P(|T| < t) = 1 - alpha`
/// (bisection to 1e-10). `None` for `df` 0 or alpha outside `(0, 1)`.
pub fn student_t_critical(alpha: f64, df: u32) -> Option<f64> {
    if df == 0 || !valid_alpha(alpha) {
        return None;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0e7f64);
    while hi - lo > 1e-10 * hi.max(1.0) {
        let mid = 0.5 * (lo + hi);
        if student_t_abs_cdf(mid, df) < 1.0 - alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

/// Non-overlapping batch means: `x` (a series, e.g. the per-block log ratios of a paired
/// run) cut into `batches` contiguous batches of (nearly) equal length; the estimate is the
/// mean of the batch means, the interval Student's t at `1 - alpha` with `batches - 1`
/// degrees of freedom on them. Batches long enough for their means to be nearly independent
/// keep autocorrelated noise from shrinking the interval. `(estimate, low, high)`; `None`
/// for fewer than 3 batches, more batches than values, a non-finite value or alpha outside
/// `(0, 1)`.
pub fn batch_means_interval(x: &[f64], batches: usize, alpha: f64) -> Option<(f64, f64, f64)> {
    let n = x.len();
    if batches < 3 || n < batches || !all_finite(x) || !valid_alpha(alpha) {
        return None;
    }
    let means: Vec<f64> = (0..batches)
        .map(|i| {
            let part = &x[i * n / batches..(i + 1) * n / batches];
            part.iter().sum::<f64>() / part.len() as f64
        })
        .collect();
    let b = batches as f64;
    let mean = means.iter().sum::<f64>() / b;
    let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (b - 1.0);
    let half = student_t_critical(alpha, u32::try_from(batches - 1).ok()?)? * (var / b).sqrt();
    Some((mean, mean - half, mean + half))
        .filter(|(m, l, h)| m.is_finite() && l.is_finite() && h.is_finite())
}

/// Outcome of comparing one metric between baseline and candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly and materially worse.
    Regression,
    /// Significantly and materially better.
    Improvement,
    /// No change both significant and at least `min_effect`.
    NoSignificantChange,
    /// Too little data (or invalid numbers) to decide.
    Inconclusive,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::NoSignificantChange => "no significant change",
            Verdict::Inconclusive => "inconclusive",
        })
    }
}

/// Classifies a shift (candidate minus baseline) with interval
/// `[low, high]` and point `estimate`. For `higher_is_worse` (latency,
/// error rate): `Regression` when `low > 0` and `estimate >= min_effect`,
/// `Improvement` when `high < 0` and `-estimate >= min_effect`, otherwise
/// `NoSignificantChange`; for higher-is-better metrics (requests/s) the two
/// are swapped. Latency and throughput shifts are on the log scale
/// (`ln candidate - ln baseline`), so pass `min_effect = ln(1 + x)` for a
/// relative change `x` (`0.05f64.ln_1p()` for 5%). A NaN input or
/// `low > high` gives `Inconclusive`, as should a missing interval.
pub fn classify(
    low: f64,
    high: f64,
    estimate: f64,
    min_effect: f64,
    higher_is_worse: bool,
) -> Verdict {
    use Verdict::*;
    if [low, high, estimate, min_effect].iter().any(|v| v.is_nan()) || low > high {
        return Inconclusive;
    }
    let (up, down) = match higher_is_worse {
        true => (Regression, Improvement),
        false => (Improvement, Regression),
    };
    if low > 0.0 && estimate >= min_effect {
        up
    } else if high < 0.0 && -estimate >= min_effect {
        down
    } else {
        NoSignificantChange
    }
}

#[cfg(test)]
mod tests;
