//! HDR histograms as the project uses them: microseconds, 1 µs … 1 h, 3 significant digits,
//! stored as base64 of the HdrHistogram V2 compressed encoding (the same bytes an HdrHistogram
//! interval log carries), so every tool that reads HdrHistogram logs can read ours.

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

/// Highest trackable latency: one hour, in microseconds.
pub const HIGHEST_US: u64 = 3_600_000_000;
/// Significant decimal digits kept.
pub const SIGFIG: u8 = 3;

/// An empty latency histogram (µs).
pub fn new_histogram() -> Histogram<u64> {
    // Bounds are constants known to be valid.
    Histogram::new_with_bounds(1, HIGHEST_US, SIGFIG).expect("valid histogram bounds")
}

/// V2-deflate + base64.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    // Serializing into a Vec cannot fail for a well-formed histogram.
    let _ = V2DeflateSerializer::new().serialize(h, &mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Inverse of [`encode`]; the error says what is wrong with the text.
pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not decode: {e:?}"))?;
    if h.high() < HIGHEST_US || h.sigfig() != SIGFIG {
        // Widen to the standard bounds so histograms from any source add together.
        let mut wide = new_histogram();
        wide.add(&h)
            .map_err(|e| format!("histogram out of range: {e:?}"))?;
        return Ok(wide);
    }
    Ok(h)
}

/// Value at quantile `q` (0..=1) in milliseconds; `None` when empty.
pub fn quantile_ms(h: &Histogram<u64>, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| h.value_at_quantile(q.clamp(0.0, 1.0)) as f64 / 1000.0)
}

/// Percentiles commonly shown: p50, p90, p95, p99, p99.9, max (ms) and the mean (ms).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        let q = |x| quantile_ms(h, x).unwrap_or(0.0);
        Summary {
            p50: q(0.5),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max: h.max() as f64 / 1000.0,
            mean: h.mean() / 1000.0,
        }
    }
}

/// Sums HdrHistogram V2-deflate texts straight into one counts array: no histogram is
/// allocated per input (decoding each into a full 1 µs … 1 h histogram and `add`ing it costs
/// ~10× more, and merging 16 shards of a 10-minute run decodes ~29,000). Texts with other
/// bounds than [`new_histogram`]'s are decoded and added the ordinary way.
pub struct Summer {
    counts: Vec<u64>,
    /// Histograms with foreign bounds, added the ordinary way.
    other: Option<Histogram<u64>>,
    inflate: flate2::Decompress,
    raw: Vec<u8>,
    plain: Vec<u8>,
}

/// V2 cookies (HdrHistogram's encoding, as the `hdrhistogram` crate writes it).
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
const V2_HEADER: usize = 40;
/// `new_histogram()`'s layout: 2048 sub-buckets (3 digits), lowest value 1.
const HALF_COUNT_MAGNITUDE: u32 = 10;

/// The lowest value of counts index `index` in a [`new_histogram`] histogram.
fn value_at_index(index: usize) -> u64 {
    let half = 1usize << HALF_COUNT_MAGNITUDE;
    let bucket = (index >> HALF_COUNT_MAGNITUDE) as i64 - 1;
    let sub = (index & (half - 1)) + half;
    if bucket < 0 {
        (sub - half) as u64
    } else {
        (sub as u64) << bucket
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// LEB128-64b9B varint (HdrHistogram's): returns the value and the bytes read.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for i in 0..9 {
        let byte = *b.get(i)?;
        if i == 8 {
            return Some((value | (u64::from(byte) << 56), 9));
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

impl Default for Summer {
    fn default() -> Summer {
        Summer::new()
    }
}

impl Summer {
    pub fn new() -> Summer {
        Summer {
            counts: vec![0; new_histogram().distinct_values()],
            other: None,
            inflate: flate2::Decompress::new(true),
            raw: Vec::new(),
            plain: Vec::new(),
        }
    }

    /// Adds one encoded histogram; returns how many samples it held.
    pub fn add(&mut self, text: &str) -> Result<u64, String> {
        use base64::Engine;
        self.raw.clear();
        base64::engine::general_purpose::STANDARD
            .decode_vec(text.trim(), &mut self.raw)
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        match self.add_fast() {
            Some(n) => Ok(n),
            None => {
                // Another layout, or damaged: the ordinary decoder accepts or explains it.
                let h = decode(text)?;
                let n = h.len();
                self.other
                    .get_or_insert_with(new_histogram)
                    .add(&h)
                    .map_err(|e| format!("histogram out of range: {e:?}"))?;
                Ok(n)
            }
        }
    }

    /// The fast path: `None` when the text is not a V2-deflate histogram of our layout.
    fn add_fast(&mut self) -> Option<u64> {
        let raw = &self.raw;
        if be_u32(raw, 0)? != V2_COMPRESSED_COOKIE {
            return None;
        }
        let len = be_u32(raw, 4)? as usize;
        let compressed = raw.get(8..8 + len)?;
        self.inflate.reset(true);
        self.plain.clear();
        loop {
            self.plain.reserve(4096);
            let before = self.inflate.total_in() as usize;
            let status = self
                .inflate
                .decompress_vec(
                    &compressed[before..],
                    &mut self.plain,
                    flate2::FlushDecompress::Finish,
                )
                .ok()?;
            match status {
                flate2::Status::StreamEnd => break,
                _ if self.inflate.total_in() as usize == before
                    && self.plain.len() < self.plain.capacity() =>
                {
                    return None; // truncated
                }
                _ => {}
            }
        }
        let p = &self.plain;
        let payload_len = be_u32(p, 4)? as usize;
        let standard = be_u32(p, 0)? == V2_COOKIE
            && be_u32(p, 8)? == 0
            && be_u32(p, 12)? == u32::from(crate::histogram::SIGFIG)
            && be_u64(p, 16)? == 1
            && be_u64(p, 24)? == crate::histogram::HIGHEST_US
            && f64::from_bits(be_u64(p, 32)?) == 1.0;
        if !standard {
            return None;
        }
        let mut payload = p.get(V2_HEADER..V2_HEADER + payload_len)?;
        // Decode into a scratch list first, so a damaged text adds nothing.
        let mut index = 0usize;
        let mut total = 0u64;
        let mut adds: Vec<(usize, u64)> = Vec::new();
        while !payload.is_empty() {
            let (zz, used) = varint(payload)?;
            payload = &payload[used..];
            let n = ((zz >> 1) as i64) ^ -((zz & 1) as i64);
            if n < 0 {
                index = index.checked_add(n.unsigned_abs() as usize)?;
            } else {
                if n > 0 {
                    if index >= self.counts.len() {
                        return None;
                    }
                    adds.push((index, n as u64));
                    total = total.checked_add(n as u64)?;
                }
                index += 1;
            }
        }
        for (i, n) in adds {
            self.counts[i] = self.counts[i].saturating_add(n);
        }
        Some(total)
    }

    pub fn finish(self) -> Result<Histogram<u64>, String> {
        let mut h = new_histogram();
        for (i, &n) in self.counts.iter().enumerate() {
            if n > 0 {
                h.record_n(value_at_index(i), n)
                    .map_err(|e| format!("histogram out of range: {e:?}"))?;
            }
        }
        if let Some(other) = self.other {
            h.add(&other)
                .map_err(|e| format!("histogram out of range: {e:?}"))?;
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_keeps_every_count() {
        let mut h = new_histogram();
        for v in [1_u64, 10, 100, 1_000, 10_000, 123_456, 3_000_000] {
            h.record_n(v, v % 7 + 1).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back.len(), h.len());
        assert_eq!(back.max(), h.max());
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        assert!(decode("not base64!").is_err());
        assert!(decode("AAAA").is_err());
    }

    #[test]
    fn summary_is_in_milliseconds_and_ordered() {
        let mut h = new_histogram();
        for v in 1..=10_000_u64 {
            h.record(v * 10).unwrap(); // 10 µs … 100 ms
        }
        let s = Summary::of(&h);
        assert!((s.p50 - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.p99 - 99.0).abs() < 0.1, "{s:?}");
        assert!(
            s.p50 <= s.p90
                && s.p90 <= s.p95
                && s.p95 <= s.p99
                && s.p99 <= s.p999
                && s.p999 <= s.max
        );
        assert_eq!(Summary::of(&new_histogram()), Summary::default());
    }

    #[test]
    fn index_values_match_the_histogram_layout() {
        let h = new_histogram();
        for i in 0..h.distinct_values() - 1 {
            let v = value_at_index(i);
            assert_eq!(h.lowest_equivalent(v), v, "index {i}");
            assert_eq!(
                h.highest_equivalent(v) + 1,
                value_at_index(i + 1),
                "index {i}"
            );
        }
        assert_eq!(value_at_index(0), 0);
        assert_eq!(value_at_index(2047), 2047);
        assert_eq!(value_at_index(2048), 2048);
        assert_eq!(value_at_index(3072), 4096);
    }

    #[test]
    fn fast_sums_equal_decoding_and_adding() {
        let mut state = 0x1234_5678_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 11
        };
        let mut slow = new_histogram();
        let mut summer = Summer::new();
        for k in 0..60u64 {
            let mut h = new_histogram();
            for _ in 0..(k * 37 % 700) {
                // 1 µs … ~1 h, log-spread, with repeats.
                let exp = next() % 32;
                let v = (1 + next() % (1u64 << exp)).min(crate::histogram::HIGHEST_US);
                h.record_n(v, 1 + next() % 3).unwrap();
            }
            assert_eq!(summer.add(&encode(&h)).unwrap(), h.len());
            slow.add(&h).unwrap();
        }
        // Other bounds go the ordinary way.
        let mut narrow = Histogram::<u64>::new_with_bounds(1, 60_000_000, 2).unwrap();
        for v in [5_u64, 500, 50_000, 5_000_000] {
            narrow.record_n(v, 3).unwrap();
        }
        let text = encode(&narrow);
        assert_eq!(summer.add(&text).unwrap(), 12);
        slow.add(decode(&text).unwrap()).unwrap();
        let fast = summer.finish().unwrap();
        assert_eq!(encode(&fast), encode(&slow));
        assert_eq!(
            (fast.len(), fast.min(), fast.max()),
            (slow.len(), slow.min(), slow.max())
        );
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(fast.value_at_quantile(q), slow.value_at_quantile(q));
        }
        let mut s = Summer::new();
        assert!(s.add("not base64!").is_err());
        assert!(s.add("AAAA").is_err());
        let good = encode(&slow);
        assert!(s.add(&good[..good.len() / 2]).is_err(), "truncated");
        assert_eq!(s.finish().unwrap().len(), 0, "damaged texts add nothing");
    }
}
