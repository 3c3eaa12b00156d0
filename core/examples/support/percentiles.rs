//! Percentiles of latency samples, printed one line per case (shared by the overhead examples).

use std::time::Duration;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Sorts `samples`, prints n, p50, p90 and p99 under `what`, and returns the p50.
pub fn report(what: &str, samples: &mut [Duration]) -> Duration {
    samples.sort();
    let p50 = percentile(samples, 0.50);
    println!(
        "{what:<28} n={:<7} p50={:>9.2?} p90={:>9.2?} p99={:>9.2?}",
        samples.len(),
        p50,
        percentile(samples, 0.90),
        percentile(samples, 0.99),
    );
    p50
}
