//! The median and the nearest-rank percentile of a set of samples.

/// The median of `samples` (the mean of the middle two for an even count).
pub(super) fn median(samples: &[f64]) -> Option<f64> {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(s[n / 2]),
        _ => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
    }
}

/// The `p`th percentile of `samples`, nearest rank: the smallest sample with at
/// least `p` % of the samples at or below it (the 99th of 100 is the 99th smallest,
/// of 5 the largest).
pub(super) fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s.get(rank.clamp(1, s.len().max(1)) - 1).copied()
}
