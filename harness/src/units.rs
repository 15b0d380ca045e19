//! Values of flags in units: durations (`500ms`, `3s`), byte sizes for people, the bounds
//! on counts and rates, and the error that names the flag a value was wrong for. The
//! modules that parse flags (config, faults, workload) share these without depending on
//! each other.

use std::time::Duration;

/// Parse `500ms`, `3s`, `1.5s`, `2m`, `250us`, `100ns`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let accepted = "a number with a unit: ns, us, ms, s, m or h (e.g. 500ms, 3s)";
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration; accepted: {accepted}"))?;
    let scale = match unit.trim() {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "'{text}' has an unknown unit; accepted: {accepted}"
            ))
        }
    };
    let seconds = value * scale;
    if !seconds.is_finite() || seconds > 7.0 * 24.0 * 3600.0 {
        return Err(format!("'{text}' is out of range (at most a week)"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The shortest exact text for a duration, in the units `parse_duration` reads.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    for (unit, scale) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if ns >= scale && ns % scale == 0 {
            return format!("{}{unit}", ns / scale);
        }
    }
    format!("{ns}ns")
}

/// A configuration problem, naming the flag at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct ConfigError {
    pub flag: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(flag: &'static str, message: impl Into<String>) -> Self {
        ConfigError {
            flag,
            message: message.into(),
        }
    }
}

pub const MAX_CONSUMERS: usize = 1024;
pub const MAX_FPS: f64 = 100_000.0;

/// Bytes in decimal units, for messages and tables.
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}
