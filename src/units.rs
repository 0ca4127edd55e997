//! Human units: parsing the ones used on the command line and in scenario files, and
//! [`fmt_ms`], the one latency format every report, table and progress line prints.

use std::time::Duration;

/// Latency in ms as every report shows it: `0.42 ms`, `12.3 ms`, `1.25 s`.
pub fn fmt_ms(v: f64) -> String {
    if !v.is_finite() {
        "n/a".to_string()
    } else if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

/// Parses `250us`, `10ms`, `1.5s`, `2m`, `1h` (a bare number is rejected: say the unit).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("'{text}' needs a unit (us, ms, s, m, h)"))?;
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 500ms, 2s or 1m"))?;
    let scale = match unit.trim() {
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown time unit '{other}' in '{text}' (us, ms, s, m, h)"
            ))
        }
    };
    let secs = value * scale;
    if !secs.is_finite() || secs > 366.0 * 86400.0 {
        return Err(format!("duration '{text}' is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Formats a duration the way [`parse_duration`] reads it back (`1m30s` is written `90s`).
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1_000) {
        format!("{}ms", us / 1_000)
    } else {
        format!("{us}us")
    }
}

/// Parses a fraction given as `5%`, `0.05`, or `5 %`; must lie in [0, 1].
pub fn parse_fraction(text: &str) -> Result<f64, String> {
    let s = text.trim();
    let value = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => s.parse::<f64>(),
    }
    .map_err(|_| format!("'{text}' is not a fraction like 0.05 or 5%"))?;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!("'{text}' must be between 0 and 1 (0% and 100%)"));
    }
    Ok(value)
}

/// Parses `200/s`, `200`, `12000/m` into requests per second (any positive rate; the
/// documented bounds are `limits::parse_rate`'s).
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let s = text.trim();
    let (num, per) = match s.split_once('/') {
        Some((n, u)) => (n.trim(), u.trim()),
        None => (s, "s"),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a rate like 200/s"))?;
    let scale = match per {
        "s" | "sec" => 1.0,
        "m" | "min" => 1.0 / 60.0,
        other => {
            return Err(format!(
                "unknown rate unit '/{other}' in '{text}' (use /s or /m)"
            ))
        }
    };
    let r = v * scale;
    if !(r.is_finite() && r > 0.0) {
        return Err(format!("rate '{text}' must be positive, e.g. 200/s"));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_reject_bare_numbers() {
        assert_eq!(parse_duration("10ms").unwrap(), Duration::from_millis(10));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("1e400s").is_err());
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
    }

    #[test]
    fn fractions_accept_percent_and_decimal() {
        assert_eq!(parse_fraction("5%").unwrap(), 0.05);
        assert_eq!(parse_fraction("0.25").unwrap(), 0.25);
        assert!(parse_fraction("150%").is_err());
        assert!(parse_fraction("-0.1").is_err());
        assert!(parse_fraction("abc").is_err());
    }

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("200/s").unwrap(), 200.0);
        assert_eq!(parse_rate("120/m").unwrap(), 2.0);
        assert_eq!(parse_rate("50").unwrap(), 50.0);
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("5/h").is_err());
    }
}
