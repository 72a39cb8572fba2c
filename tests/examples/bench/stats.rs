//! Percentiles of a sample.

use serde::{Deserialize, Serialize};

/// A distribution summary, in the sample's unit (seconds for lags).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Dist {
    pub n: usize,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// Nearest-rank percentile of a sorted sample.
fn rank(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[idx.clamp(1, sorted.len()) - 1]
}

fn r3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

impl Dist {
    pub fn of(values: &[f64]) -> Dist {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return Dist::default();
        }
        Dist {
            n: sorted.len(),
            min: r3(sorted[0]),
            p50: r3(rank(&sorted, 50.0)),
            p90: r3(rank(&sorted, 90.0)),
            p99: r3(rank(&sorted, 99.0)),
            max: r3(sorted[sorted.len() - 1]),
            mean: r3(sorted.iter().sum::<f64>() / sorted.len() as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let d = Dist::of(&values);
        assert_eq!(d.p50, 50.0);
        assert_eq!(d.p99, 99.0);
        assert_eq!(d.max, 100.0);
        assert_eq!(Dist::of(&[]).n, 0);
        assert_eq!(Dist::of(&[3.0]).p99, 3.0);
    }
}
