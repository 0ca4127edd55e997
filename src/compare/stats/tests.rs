use super::*;

fn close(x: f64, y: f64) -> bool {
    (x - y).abs() < 1e-12
}

#[test]
fn median_quantile_bonferroni_block_len() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), Some(1.75));
    assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 1.0), Some(4.0));
    assert_eq!(quantile(&[1.0, 2.0], 1.5), None);
    assert_eq!(quantile(&[1.0], f64::NAN), None);
    assert_eq!(median(&[]).or(median(&[1.0, f64::NAN])), None);
    assert!(close(bonferroni(0.05, 5), 0.01) && bonferroni(0.05, 0) == 0.05);
    let lens = [0, 1, 8, 27, 100, 1000].map(default_block_len);
    assert_eq!(lens, [1, 1, 2, 3, 5, 10]);
}

#[test]
fn hodges_lehmann_small() {
    let (x, y) = ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]);
    // Differences 3,2,1,4,3,2,5,4,3: the median of 9 is 3.
    assert_eq!(hodges_lehmann(&x, &y), Some(3.0));
    assert_eq!(hodges_lehmann(&y, &x), Some(-3.0));
    // Differences 1,0,4,3 -> 0,1,3,4: (1 + 3) / 2 = 2.
    assert_eq!(hodges_lehmann(&[0.0, 1.0], &[1.0, 4.0]), Some(2.0));
    assert_eq!(hodges_lehmann(&[], &[1.0]), None);
    assert_eq!(hodges_lehmann(&[1.0, f64::NAN], &[1.0]), None);
    assert_eq!(hodges_lehmann(&[1.0], &[f64::INFINITY]), None);
}

#[test]
fn mann_whitney_u_and_p() {
    // b=2 beats a=1 and ties a=2 (1.5); b=4 beats all three (3).
    assert_eq!(mann_whitney_u(&[1.0, 2.0, 3.0], &[2.0, 4.0]), 4.5);
    assert!(mann_whitney_u(&[f64::NAN], &[1.0]).is_nan());
    // U = 9 of 9: p = 2 * P(U <= 0) = 2/20; U = 4.5 (centre): p = 1.
    let (x, y, z) = ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [1.0, 4.0, 5.0]);
    assert!(close(mann_whitney_p(&x, &y).unwrap(), 0.1));
    assert_eq!(mann_whitney_p(&z, &[2.0, 3.0, 6.0]), Some(1.0));
    assert_eq!(mann_whitney_p(&[], &[1.0]), None);
}

#[test]
fn exact_cdf_m3_n3() {
    // Partitions of u into <= 3 parts each <= 3: 1, 1, 2, 3 of C(6,3) = 20.
    let us = [-1.0, 0.0, 1.0, 2.0, 2.5, 3.0, 4.0, 8.0, 9.0];
    let counts = [0.0, 1.0, 2.0, 4.0, 4.0, 7.0, 10.0, 19.0, 20.0];
    for (u, count) in us.into_iter().zip(counts) {
        assert!(close(mann_whitney_cdf(3, 3, u), count / 20.0), "u={u}");
    }
    assert!(mann_whitney_cdf(3, 3, f64::NAN).is_nan());
    assert_eq!(mann_whitney_cdf(0, 3, 0.0), 1.0);
}

/// Brute force over all C(m+n, m) placements of the baseline ranks.
fn brute_cdf(m: usize, n: usize, u: usize) -> f64 {
    let (mut hit, mut all) = (0u64, 0u64);
    for mask in (0u32..1 << (m + n)).filter(|x| x.count_ones() as usize == m) {
        // U = pairs (baseline at rank i, candidate at a rank j > i).
        let stat: usize = (0..m + n)
            .filter(|i| mask >> i & 1 == 1)
            .map(|i| (i + 1..m + n).filter(|j| mask >> j & 1 == 0).count())
            .sum();
        all += 1;
        hit += u64::from(stat <= u);
    }
    hit as f64 / all as f64
}

#[test]
fn exact_cdf_matches_enumeration() {
    for (m, n) in [(1, 1), (2, 5), (4, 4), (3, 7), (6, 5), (7, 7)] {
        for u in 0..=m * n {
            let (dp, bf) = (mann_whitney_cdf(m, n, u as f64), brute_cdf(m, n, u));
            assert!((dp - bf).abs() < 1e-12, "m={m} n={n} u={u}: {dp} vs {bf}");
        }
    }
}

#[test]
fn critical_values_match_published_table() {
    // Two-sided alpha = 0.05, m = n = k.
    let table = [(4, 0), (5, 2), (6, 5), (7, 8), (8, 13), (9, 17), (10, 23)];
    for (k, c) in table {
        assert_eq!(mann_whitney_critical(k, k, 0.05), Some(c), "k={k}");
    }
    assert_eq!(mann_whitney_critical(3, 3, 0.05), None);
    assert_eq!(mann_whitney_critical(1, 1, 0.05), None);
    // P(U <= 2) = 4/210 <= 0.025 < P(U <= 3) = 7/210.
    assert_eq!(mann_whitney_critical(4, 6, 0.05), Some(2));
    assert_eq!(mann_whitney_critical(6, 4, 0.05), Some(2));
    assert_eq!(mann_whitney_critical(5, 8, 0.05), Some(6));
    assert_eq!(mann_whitney_critical(10, 10, 0.01), Some(16));
    // Exact boundary: P(U <= 0) = 1/20 = 0.10 / 2.
    assert_eq!(mann_whitney_critical(3, 3, 0.10), Some(0));
    assert_eq!(mann_whitney_critical(0, 5, 0.05), None);
    assert_eq!(mann_whitney_critical(5, 5, f64::NAN), None);
    assert_eq!(mann_whitney_critical(5, 5, 1.0), None);
    assert_eq!(mann_whitney_critical(usize::MAX, 2, 0.05), None);
    assert_eq!(mann_whitney_critical(201, 201, 0.05), None);
}

#[test]
fn moses_interval_hand_computed() {
    // m = n = 4, c = 0: [min D, max D] with D = 10 + (j - i), i, j in 1..=4.
    let s = shift_estimate(&[1.0, 2.0, 3.0, 4.0], &[11.0, 12.0, 13.0, 14.0], 0.05).unwrap();
    assert_eq!((s.estimate, s.low, s.high), (10.0, 7.0, 13.0));
    assert!(close(s.confidence, 1.0 - 2.0 / 70.0));
    // m = n = 5, c = 2: D(3) = 7 and D(23) = 13 of 25; P(U <= 2) = 4/252.
    let (a, b) = ([0.0, 1.0, 2.0, 3.0, 4.0], [10.0, 11.0, 12.0, 13.0, 14.0]);
    let s = shift_estimate(&a, &b, 0.05).unwrap();
    assert_eq!((s.estimate, s.low, s.high), (10.0, 7.0, 13.0));
    assert!(close(s.confidence, 1.0 - 8.0 / 252.0));
    assert_eq!(shift_confidence_interval(&a, &b, 0.05), Some((7.0, 13.0)));
}

#[test]
fn moses_interval_clear_shift_and_identical() {
    let a = [10.0, 10.3, 9.8, 10.1, 9.9, 10.2, 10.05, 9.95];
    let jitter = [0.1, -0.1, 0.05, 0.0, -0.05, 0.2, -0.2, 0.0];
    let b: Vec<f64> = a.iter().zip(jitter).map(|(x, j)| x + 0.5 + j).collect();
    let (lo, hi) = shift_confidence_interval(&a, &b, 0.05).unwrap();
    assert!(lo > 0.0 && lo <= 0.5 && hi >= 0.5, "({lo}, {hi})");
    let (lo, hi) = shift_confidence_interval(&a, &a, 0.05).unwrap();
    assert!(lo < 0.0 && hi > 0.0);
}

#[test]
fn shift_estimate_degenerate_input() {
    let three = [1.0, 2.0, 3.0];
    assert_eq!(shift_estimate(&[1.0], &[2.0], 0.05), None);
    assert_eq!(shift_estimate(&three, &three, 0.05), None);
    assert_eq!(shift_estimate(&[], &[], 0.05), None);
    assert_eq!(shift_estimate(&[1.0; 5], &[f64::NAN; 5], 0.05), None);
    assert_eq!(shift_estimate(&[1.0; 5], &[2.0; 5], 0.0), None);
    let big = vec![1.0; 2000];
    assert_eq!(hodges_lehmann(&big, &big), None);
    assert!(mann_whitney_cdf(2000, 2000, 1.0).is_nan());
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn cfg(seed: u64, log_ratio: bool) -> BootstrapConfig {
    let (block_len, resamples, alpha) = (4, 500, 0.05);
    BootstrapConfig {
        block_len,
        resamples,
        alpha,
        log_ratio,
        seed,
    }
}

fn covers(r: &BootstrapResult) -> bool {
    0.0 < r.low && r.low < r.estimate && r.estimate < r.high
}

#[test]
fn bootstrap_reproducible_and_covers_estimate() {
    let a: Vec<f64> = (0..60).map(|i| 100.0 + (i as f64 / 5.0).sin()).collect();
    let b: Vec<f64> = a.iter().map(|x| x * 1.1).collect();
    let run = |seed, log| moving_block_bootstrap(&a, &b, &cfg(seed, log), mean).unwrap();
    let (r, d) = (run(7, true), run(7, false));
    assert_eq!(r, run(7, true));
    let r8 = run(8, true);
    assert_ne!((r.low, r.high), (r8.low, r8.high));
    assert!((r.estimate - 1.1f64.ln()).abs() < 1e-12 && r.resamples_used == 500);
    assert!(covers(&r) && covers(&d), "{r:?} {d:?}");
}

#[test]
fn bootstrap_degenerate_input() {
    let c = cfg(1, true);
    assert_eq!(moving_block_bootstrap(&[], &[1.0], &c, mean), None);
    assert_eq!(moving_block_bootstrap(&[f64::NAN], &[1.0], &c, mean), None);
    assert_eq!(moving_block_bootstrap(&[-1.0, 1.0], &[1.0], &c, mean), None);
    for bad in [
        BootstrapConfig { block_len: 0, ..c },
        BootstrapConfig { alpha: 1.0, ..c },
    ] {
        assert_eq!(moving_block_bootstrap(&[1.0], &[1.0], &bad, mean), None);
    }
    // Blocks at least as long as the series reproduce it exactly.
    let (x, y) = ([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]);
    let long = BootstrapConfig { block_len: 9, ..c };
    let r = moving_block_bootstrap(&x, &y, &long, mean).unwrap();
    assert_eq!((r.low, r.high), (2f64.ln(), 2f64.ln()));
}

#[test]
fn student_t_matches_tables() {
    // Two-sided 95% and 99% critical values (any statistics table).
    for (df, t95, t99) in [
        (1, 12.7062, 63.6567),
        (2, 4.3027, 9.9248),
        (5, 2.5706, 4.0321),
        (6, 2.4469, 3.7074),
        (10, 2.2281, 3.1693),
        (30, 2.0423, 2.7500),
    ] {
        let (a, b) = (
            student_t_critical(0.05, df).unwrap(),
            student_t_critical(0.01, df).unwrap(),
        );
        assert!(
            (a - t95).abs() < 1e-3 && (b - t99).abs() < 1e-3,
            "df {df}: {a} {b}"
        );
    }
    assert!((student_t_abs_cdf(0.0, 4)).abs() < 1e-15);
    assert_eq!(student_t_critical(0.05, 0), None);
    assert_eq!(student_t_critical(1.0, 3), None);
}

#[test]
fn batch_means_hand_computed() {
    // Batches [1,2] [3,4] [5,6]: means 1.5, 3.5, 5.5; sd 2; se 2/√3; t(0.05, 2) = 4.3027.
    let (m, lo, hi) = batch_means_interval(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, 0.05).unwrap();
    let half = 4.302_652_7 * 2.0 / 3f64.sqrt();
    assert!(
        (m - 3.5).abs() < 1e-12 && (hi - m - half).abs() < 1e-6 && (m - lo - half).abs() < 1e-6
    );
    assert_eq!(batch_means_interval(&[1.0, 2.0], 3, 0.05), None);
    assert_eq!(batch_means_interval(&[1.0; 9], 2, 0.05), None);
    assert_eq!(batch_means_interval(&[1.0, f64::NAN, 1.0], 3, 0.05), None);
    assert_eq!(
        batch_means_interval(&[2.0; 9], 3, 0.05),
        Some((2.0, 2.0, 2.0))
    );
}

#[test]
fn classify_verdicts() {
    use Verdict::*;
    let e = 0.05f64.ln_1p();
    assert_eq!(classify(0.1, 0.3, 0.2, e, true), Regression);
    assert_eq!(classify(0.01, 0.06, 0.03, e, true), NoSignificantChange);
    assert_eq!(classify(-0.3, -0.1, -0.2, e, true), Improvement);
    assert_eq!(classify(-0.1, 0.3, 0.2, e, true), NoSignificantChange);
    assert_eq!(classify(0.1, 0.3, 0.2, e, false), Improvement);
    assert_eq!(classify(-0.3, -0.1, -0.2, e, false), Regression);
    assert_eq!(classify(f64::NAN, 0.3, 0.2, e, true), Inconclusive);
    assert_eq!(classify(0.3, 0.1, 0.2, e, true), Inconclusive);
}
