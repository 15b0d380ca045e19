//! Run parameters and the key that matches a run of one report with a run of another.
//!
//! The parameters are not a list kept here: they are every field of the recorded
//! configuration (`runs[].config`), plus the run's consumer count and its faults. A field
//! added to the configuration record later (a new flag, a new sweep axis) is a parameter
//! the moment it is recorded, so two runs that differ in it can never be taken for trials
//! of one configuration, and `--ignore-param` accepts its name.
//!
//! Names: a field's name without a unit suffix (`duration_s` is `duration`), `width` and
//! `height` together are `resolution`. Two fields describe a run without being chosen for
//! it and are left out: `source_detail` (what a file said about itself) and `frame_bytes`
//! (resolution times format).
//!
//! # Reports that do not record a parameter
//!
//! A report written before a field existed reads it as its empty default (`null`, `""` or
//! `0`). Such a value, when the field's default in `fbench run` is something else, means
//! *not recorded*: it matches any value on the other side, and the gate says which
//! parameters it could not check.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use fbench_harness::config::ConfigRecord;
use fbench_harness::{RunConfig, RunResult};

/// Fields of the configuration record that are not parameters.
const NOT_PARAMETERS: [&str; 2] = ["source_detail", "frame_bytes"];

/// A run parameter, by the name users write (`--ignore-param`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param(String);

impl Param {
    /// The name users write, as the `run` flag without dashes (`pool_size`).
    pub fn name(&self) -> &str {
        &self.0
    }

    /// Every parameter a run of this fbench records, in the order the report records them.
    pub fn all() -> Vec<Param> {
        defaults()
            .iter()
            .map(|(name, _)| Param(name.clone()))
            .collect()
    }

    /// The parameter's value in a run as a short label part (`c5`, `1920x1080`, `30fps`,
    /// `slots 3`); `NAME unrecorded` when the run's report does not record it.
    pub(crate) fn label(&self, run: &RunResult) -> String {
        let params = params_of(run);
        match params.iter().find(|(name, _)| *name == self.0) {
            Some((name, value)) => label(name, value),
            None => format!("{} unrecorded", self.0),
        }
    }
}

impl FromStr for Param {
    type Err = String;

    fn from_str(text: &str) -> Result<Param, String> {
        let wanted = text.trim().trim_start_matches("--").replace('-', "_");
        let wanted = wanted.strip_suffix("_s").unwrap_or(&wanted);
        let all = Param::all();
        all.iter()
            .find(|p| p.name() == wanted)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = all.iter().map(|p| p.name()).collect();
                format!(
                    "unknown run parameter '{text}'; accepted: {}",
                    names.join(", ")
                )
            })
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The fields of a JSON object in the order they were written (`serde_json::Map` sorts).
struct Fields(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Fields, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    fields.push(entry);
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(InOrder)
    }
}

fn params_from(
    consumers: usize,
    config: &ConfigRecord,
    faults: Vec<String>,
) -> Vec<(String, Value)> {
    let text = serde_json::to_string(config).expect("a configuration record is JSON");
    let Fields(fields) = serde_json::from_str(&text).expect("a configuration record is an object");
    let slots_derived = fields
        .iter()
        .any(|(f, v)| f == "slots_default" && v.as_bool() == Some(true));
    let mut params = vec![("consumers".to_string(), Value::from(consumers))];
    for (field, value) in &fields {
        if NOT_PARAMETERS.contains(&field.as_str()) || field == "height" {
            continue;
        }
        if field == "width" {
            let height = fields
                .iter()
                .find(|(f, _)| f == "height")
                .map_or(Value::Null, |(_, v)| v.clone());
            params.push((
                "resolution".to_string(),
                Value::from(format!("{value}x{height}")),
            ));
            continue;
        }
        if field == "slots_default" {
            // A marker, not a parameter: it says `slots` was derived (see below).
            continue;
        }
        if field == "slots" && slots_derived {
            // consumers + 2 slots: derived from the consumer count, itself a parameter. A
            // run at the default matches a run at the default whatever its count of slots.
            params.push(("slots".to_string(), Value::from("default")));
            continue;
        }
        let name = field.strip_suffix("_s").unwrap_or(field);
        params.push((name.to_string(), value.clone()));
    }
    params.push(("faults".to_string(), Value::from(faults)));
    params
}

/// A run's parameters and their values, in the order the report records them.
pub(crate) fn params_of(run: &RunResult) -> Vec<(String, Value)> {
    let faults = run.faults.iter().map(|f| f.fault.clone()).collect();
    params_from(run.consumers, &run.config, faults)
}

/// The parameters of `fbench run` without flags.
fn defaults() -> &'static [(String, Value)] {
    static DEFAULTS: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    DEFAULTS.get_or_init(|| {
        let config = RunConfig::default_config();
        params_from(config.consumers, &config.record(), Vec::new())
    })
}

fn default_of(name: &str) -> Option<&'static Value> {
    defaults().iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// Whether `value` is what a report that predates the field reads for it.
pub(crate) fn unrecorded(name: &str, value: &Value) -> bool {
    let empty = value.is_null()
        || value.as_str() == Some("")
        || value.as_u64() == Some(0)
        || value.as_str() == Some("0x0");
    empty && default_of(name).is_some_and(|d| d != value)
}

/// A value as label text: numbers without a trailing `.0`, lists joined by `+`.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => u.to_string(),
            (None, Some(f)) => f.to_string(),
            _ => n.to_string(),
        },
        Value::Array(items) if items.is_empty() => "none".to_string(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join("+"),
        Value::Null => "unrecorded".to_string(),
        other => other.to_string(),
    }
}

/// A parameter's value as a short label part.
pub(crate) fn label(name: &str, value: &Value) -> String {
    if unrecorded(name, value) {
        return format!("{name} unrecorded");
    }
    let v = text(value);
    match name {
        "consumers" => format!("c{v}"),
        "source" | "resolution" | "format" | "workload" => v,
        "fps" => format!("{v}fps"),
        "duration" => format!("{v}s"),
        "warmup" => format!("warmup {v}s"),
        "slow" if v == "none" => "no slow".to_string(),
        "faults" if v == "none" => "no faults".to_string(),
        "deadline_tolerance" => format!("tolerance {v}"),
        "pool_size" | "pool_policy" => format!("pool {v}"),
        _ => format!("{name} {v}"),
    }
}

/// What matches runs: the strategy and every parameter not ignored, `None` where the run's
/// report does not record it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RunKey {
    strategy: String,
    values: Vec<(String, Option<Value>)>,
}

impl RunKey {
    pub(crate) fn of(run: &RunResult, ignore: &[Param]) -> RunKey {
        let values = params_of(run)
            .into_iter()
            .filter(|(name, _)| !ignore.iter().any(|p| p.name() == name))
            .map(|(name, value)| {
                let value = (!unrecorded(&name, &value)).then_some(value);
                (name, value)
            })
            .collect();
        RunKey {
            strategy: run.strategy.clone(),
            values,
        }
    }

    /// Same strategy, and every parameter both record has the same value.
    pub(crate) fn matches(&self, other: &RunKey) -> bool {
        self.strategy == other.strategy
            && self.values.iter().all(|(name, value)| {
                let theirs = other.values.iter().find(|(n, _)| n == name);
                match (value, theirs) {
                    (Some(mine), Some((_, Some(theirs)))) => mine == theirs,
                    _ => true,
                }
            })
    }

    /// Parameters recorded here that `other` does not record.
    pub(crate) fn unrecorded_in<'a>(&'a self, other: &'a RunKey) -> impl Iterator<Item = &'a str> {
        self.values.iter().filter_map(move |(name, value)| {
            let theirs = other.values.iter().find(|(n, _)| n == name);
            let missing = !matches!(theirs, Some((_, Some(_))));
            (value.is_some() && missing).then_some(name.as_str())
        })
    }
}

/// A name for a run that stays the same from one report to the next (for dashboards):
/// strategy, consumers, frame size and format, rate and workload, plus every other
/// parameter whose value differs from the `fbench run` default. Duration and warm-up are
/// left out, so that lengthening runs does not start a new series.
pub fn benchmark_name(run: &RunResult) -> String {
    let c = &run.config;
    let mut name = format!(
        "{} c{} {}x{} {} {}fps {}",
        run.strategy, run.consumers, c.width, c.height, c.format, c.fps, c.workload
    );
    const IN_THE_NAME: [&str; 7] = [
        "consumers",
        "resolution",
        "format",
        "fps",
        "workload",
        "duration",
        "warmup",
    ];
    for (param, value) in params_of(run) {
        if IN_THE_NAME.contains(&param.as_str()) || unrecorded(&param, &value) {
            continue;
        }
        if default_of(&param) != Some(&value) {
            name.push(' ');
            name.push_str(&label(&param, &value));
        }
    }
    name
}
