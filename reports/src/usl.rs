//! The Universal Scalability Law (N. J. Gunther) fitted to sustained capacity against consumer
//! count — a *model*, reported only where it fits, never as a measurement.
//!
//! `X(N) = λ N / (1 + σ (N − 1) + κ N (N − 1))`, with X the frames delivered per second over
//! all consumers (sustained rate × N), σ the contention and κ the coherency cost. With λ =
//! X(1) measured, the standard linearisation `N / C(N) − 1 = σ (N − 1) + κ N (N − 1)`, where
//! `C(N) = X(N) / X(1)`, is a linear least-squares problem in two unknowns without intercept,
//! solved here by its 2×2 normal equations. That is a dozen lines, so no crate is pulled in
//! for it (a general non-linear fitter would be a heavy dependency for two coefficients).

use serde::{Deserialize, Serialize};

/// A fit good enough to report.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct UslFit {
    /// X(1): frames per second with one consumer (measured).
    pub lambda: f64,
    /// Contention.
    pub sigma: f64,
    /// Coherency.
    pub kappa: f64,
    /// Coefficient of determination of X(N) over the points fitted.
    pub r_squared: f64,
    /// Points fitted.
    pub points: usize,
    /// Consumer count where the model's throughput peaks, and that throughput (frames per
    /// second over all consumers); `None` when κ is 0 (no peak, only an asymptote).
    pub peak_consumers: Option<f64>,
    pub peak_throughput: Option<f64>,
}

/// Least R² for a fit to be reported.
pub const MIN_R_SQUARED: f64 = 0.9;
/// Least points (including N = 1) for a fit to be tried.
pub const MIN_POINTS: usize = 4;

impl UslFit {
    /// The model's throughput at `n` consumers.
    pub fn throughput(&self, n: f64) -> f64 {
        self.lambda * n / (1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0))
    }
}

/// Fit `(consumers, throughput)` points; `None` unless the fit is good: at least
/// [`MIN_POINTS`] points, one of them at N = 1, σ and κ not negative, R² ≥ [`MIN_R_SQUARED`].
pub fn fit(points: &[(f64, f64)]) -> Option<UslFit> {
    let lambda = points.iter().find(|p| p.0 == 1.0)?.1;
    if points.len() < MIN_POINTS || lambda <= 0.0 {
        return None;
    }
    // Normal equations of y = σ a + κ b, a = N − 1, b = N (N − 1).
    let (mut aa, mut ab, mut bb, mut ay, mut by) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(n, x) in points {
        if n <= 1.0 || x <= 0.0 {
            continue;
        }
        let c = x / lambda;
        let y = n / c - 1.0;
        let a = n - 1.0;
        let b = n * (n - 1.0);
        aa += a * a;
        ab += a * b;
        bb += b * b;
        ay += a * y;
        by += b * y;
    }
    let det = aa * bb - ab * ab;
    if det.abs() < 1e-12 {
        return None;
    }
    let sigma = (ay * bb - by * ab) / det;
    let kappa = (aa * by - ab * ay) / det;
    if sigma < 0.0 || kappa < 0.0 {
        return None;
    }
    let mut model = UslFit {
        lambda,
        sigma,
        kappa,
        r_squared: 0.0,
        points: points.len(),
        peak_consumers: None,
        peak_throughput: None,
    };
    let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    let total: f64 = points.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let residual: f64 = points
        .iter()
        .map(|p| (p.1 - model.throughput(p.0)).powi(2))
        .sum();
    model.r_squared = if total > 0.0 {
        1.0 - residual / total
    } else {
        0.0
    };
    if model.r_squared < MIN_R_SQUARED {
        return None;
    }
    if kappa > 0.0 && sigma < 1.0 {
        let n = ((1.0 - sigma) / kappa).sqrt();
        model.peak_consumers = Some(n);
        model.peak_throughput = Some(model.throughput(n));
    }
    Some(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usl_curve_is_recovered() {
        let truth = UslFit {
            lambda: 60.0,
            sigma: 0.05,
            kappa: 0.002,
            r_squared: 1.0,
            points: 0,
            peak_consumers: None,
            peak_throughput: None,
        };
        let points: Vec<(f64, f64)> = [1.0, 3.0, 5.0, 10.0, 15.0, 20.0, 50.0]
            .iter()
            .map(|&n| (n, truth.throughput(n)))
            .collect();
        let model = fit(&points).unwrap();
        assert!((model.sigma - 0.05).abs() < 1e-9, "{model:?}");
        assert!((model.kappa - 0.002).abs() < 1e-9, "{model:?}");
        assert!(model.r_squared > 0.999);
        let peak = model.peak_consumers.unwrap();
        assert!((peak - (0.95f64 / 0.002).sqrt()).abs() < 1e-6);
    }

    #[test]
    fn bad_fits_and_thin_data_report_nothing() {
        // Too few points.
        assert!(fit(&[(1.0, 60.0), (5.0, 200.0), (10.0, 300.0)]).is_none());
        // No N = 1.
        assert!(fit(&[(2.0, 60.0), (5.0, 200.0), (10.0, 300.0), (20.0, 400.0)]).is_none());
        // Superlinear: negative contention.
        assert!(fit(&[(1.0, 10.0), (2.0, 40.0), (4.0, 160.0), (8.0, 640.0)]).is_none());
        // Noise the model cannot follow.
        assert!(fit(&[
            (1.0, 100.0),
            (2.0, 30.0),
            (4.0, 390.0),
            (8.0, 50.0),
            (16.0, 700.0)
        ])
        .is_none());
    }
}
