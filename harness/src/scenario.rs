//! Scenario files: a named sweep in TOML, so that a comparison can be repeated by name
//! (`fbench run --scenario NAME`) instead of by retyping flags.
//!
//! # Schema
//!
//! Every key is optional; a missing key takes the `fbench run` default. Keys that are run
//! parameters take one value or a list of values, and a list is swept (every combination is
//! run, see [`crate::sweep`]). Values are written exactly as on the command line.
//!
//! | key | type | `fbench run` flag |
//! |---|---|---|
//! | `description` | string, one line shown by `fbench list scenarios` | |
//! | `source` | `"synthetic"` (the only source so far) | |
//! | `strategies` | `"all"` or a list of strategy names | `--strategy` |
//! | `consumers` | integer or list, 1 to 1024 | `--consumers` |
//! | `resolution` | `"480p"`, `"720p"`, `"1080p"`, `"4k"`, `"WIDTHxHEIGHT"` or list | `--resolution` |
//! | `format` | `"rgb24"`, `"bgr24"`, `"yuyv"`, `"nv12"` or list | `--format` |
//! | `fps` | number or list | `--fps` |
//! | `duration`, `warmup` | duration string (`"5s"`, `"500ms"`) or list | `--duration`, `--warmup` |
//! | `workload` | `"inspect"`, `"copy"`, `"busy:<dur>"`, `"sleep:<dur>"` or list | `--workload` |
//! | `slow` | `"COUNT:WORKLOAD"` or list of them; applies to every run, not swept | `--slow` |
//! | `wait` | `"block"`, `"spin"`, `"poll:<dur>"` or list | `--wait` |
//! | `verify` | `"stamps"`, `"full"`, `"off"` or list | `--verify` |
//! | `deadline_tolerance` | number or list | `--deadline-tolerance` |
//! | `pool_size` | integer or list | `--pool-size` |
//! | `pool_policy` | `"grow"`, `"drop"` or list | `--pool-policy` |
//! | `queue_depth` | integer or list, 1 to 1024 | `--queue-depth` |
//! | `drop_policy` | `"block"`, `"oldest"`, `"newest"` or list | `--drop-policy` |
//! | `consumer_cmd` | `"CMD"`, `"COUNT:CMD"` or list of them; applies to every run, not swept | `--consumer-cmd` |
//! | `gates` | table; reserved for CI gating, kept but not interpreted here | |
//! | `capacity` | table of `fbench capacity` settings (`budget = "20m"`, `max_fps = 240`, ...), kept but not interpreted here | |
//!
//! Any other key is refused, so that a misspelt key cannot silently fall back to a
//! default.

use std::str::FromStr;
use std::time::Duration;

use crate::registry::StrategyRef;
use toml::{Table, Value};

use crate::config::{
    parse_drop_policy, parse_duration, parse_pool_policy, RunConfig, Wait, MAX_CONSUMERS,
    MAX_QUEUE_DEPTH,
};
use crate::source::SourceSpec;
use crate::sweep::SweepSpec;

/// A parsed scenario file.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub sweep: SweepSpec,
    /// The `[gates]` table, left for the gating code to interpret.
    pub gates: Option<Table>,
    /// The `[capacity]` table, left for `fbench capacity` to interpret.
    pub capacity: Option<Table>,
}

/// What is wrong with a scenario file: the key at fault (or the line of a syntax error) and
/// what would be accepted. The caller adds the file name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ScenarioError {
    pub key: String,
    pub message: String,
}

impl ScenarioError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        ScenarioError {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// The keys a scenario may have, in the order the schema lists them.
pub const KEYS: [&str; 22] = [
    "description",
    "source",
    "strategies",
    "consumers",
    "resolution",
    "format",
    "fps",
    "duration",
    "warmup",
    "workload",
    "slow",
    "wait",
    "verify",
    "deadline_tolerance",
    "pool_size",
    "pool_policy",
    "queue_depth",
    "drop_policy",
    "interval",
    "consumer_cmd",
    "gates",
    "capacity",
];

/// The scenario key that sets what a command-line flag sets (`--deadline-tolerance` ->
/// `deadline_tolerance`), for naming keys in validation errors.
pub fn key_of_flag(flag: &str) -> String {
    match flag {
        "--strategy" => "strategies".to_string(),
        other => other.trim_start_matches('-').replace('-', "_"),
    }
}

impl Scenario {
    /// Parse the text of a scenario called `name`.
    pub fn parse(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let table: Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            let message = e.message().lines().next().unwrap_or("invalid TOML").trim();
            ScenarioError::new(
                &match line {
                    Some(line) => format!("line {line}"),
                    None => "TOML".to_string(),
                },
                format!("not valid TOML: {message}"),
            )
        })?;
        if let Some(key) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(ScenarioError::new(
                key,
                format!("unknown key; accepted: {}", KEYS.join(", ")),
            ));
        }

        let defaults = RunConfig::default_config();
        let mut sweep = SweepSpec::single(crate::registry::current().all(), &defaults);
        let mut description = String::new();
        let mut gates = None;
        let mut capacity = None;
        for (key, value) in &table {
            let key = key.as_str();
            match key {
                "description" => {
                    description = value
                        .as_str()
                        .ok_or_else(|| ScenarioError::new(key, "must be a string"))?
                        .to_string()
                }
                "source" => {
                    let text = one_string(key, value)?;
                    sweep.source = match text {
                        "synthetic" => SourceSpec::Synthetic,
                        other => {
                            return Err(ScenarioError::new(
                                key,
                                format!("unknown source '{other}'; accepted: synthetic"),
                            ))
                        }
                    }
                }
                "strategies" => sweep.strategies = strategies(key, value)?,
                "consumers" => {
                    sweep.consumers = list(key, value, |v| {
                        count(v, 1, MAX_CONSUMERS, "a whole number from 1 to 1024")
                    })?
                }
                "resolution" => sweep.resolution = list(key, value, parsed)?,
                "format" => sweep.format = list(key, value, parsed)?,
                "fps" => sweep.fps = list(key, value, |v| positive(v, "above 0 (e.g. 30)"))?,
                "duration" => sweep.duration = list(key, value, duration)?,
                "warmup" => sweep.warmup = list(key, value, duration)?,
                "workload" => sweep.workload = list(key, value, parsed)?,
                "slow" => sweep.slow = list(key, value, parsed)?,
                "consumer_cmd" => sweep.consumer_cmd = list(key, value, parsed)?,
                "wait" => sweep.wait = list(key, value, |v| parsed::<Wait>(v).map(|w| w.0))?,
                "verify" => sweep.verify = list(key, value, parsed)?,
                "deadline_tolerance" => {
                    sweep.deadline_tolerance = list(key, value, |v| {
                        number(v, "a number, 0 or more (e.g. 0.1 for 10%)")
                            .and_then(|t| non_negative(t, "0 or more (e.g. 0.1 for 10%)"))
                    })?
                }
                "pool_size" => {
                    sweep.pool_size = list(key, value, |v| {
                        count(v, 2, 1 << 20, "a whole number, at least 2")
                    })?
                }
                "pool_policy" => {
                    sweep.pool_policy = list(key, value, |v| {
                        v.as_str()
                            .ok_or_else(|| "must be \"grow\" or \"drop\"".to_string())
                            .and_then(parse_pool_policy)
                    })?
                }
                "queue_depth" => {
                    sweep.queue_depth = list(key, value, |v| {
                        count(v, 1, MAX_QUEUE_DEPTH, "a whole number from 1 to 1024")
                    })?
                }
                "drop_policy" => {
                    sweep.drop_policy = list(key, value, |v| {
                        v.as_str()
                            .ok_or_else(|| {
                                "must be \"block\", \"oldest\" or \"newest\"".to_string()
                            })
                            .and_then(parse_drop_policy)
                    })?
                }
                "interval" => {
                    sweep.interval = crate::timeline::parse_interval(one_string(key, value)?)
                        .map_err(|e| ScenarioError::new(key, e))?
                }
                "gates" => {
                    gates = Some(
                        value
                            .as_table()
                            .ok_or_else(|| ScenarioError::new(key, "must be a table ([gates])"))?
                            .clone(),
                    )
                }
                "capacity" => {
                    capacity = Some(
                        value
                            .as_table()
                            .ok_or_else(|| ScenarioError::new(key, "must be a table ([capacity])"))?
                            .clone(),
                    )
                }
                _ => unreachable!("unknown keys were refused above"),
            }
        }
        Ok(Scenario {
            name: name.to_string(),
            description,
            sweep,
            gates,
            capacity,
        })
    }
}

/// One value or a list of them, each converted by `convert`; errors name the key.
fn list<T>(
    key: &str,
    value: &Value,
    convert: impl Fn(&Value) -> Result<T, String>,
) -> Result<Vec<T>, ScenarioError> {
    let values = match value {
        Value::Array(items) if items.is_empty() => {
            return Err(ScenarioError::new(
                key,
                "the list is empty; give at least one value",
            ))
        }
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    values
        .into_iter()
        .map(|v| convert(v).map_err(|message| ScenarioError::new(key, message)))
        .collect()
}

fn one_string<'a>(key: &str, value: &'a Value) -> Result<&'a str, ScenarioError> {
    value
        .as_str()
        .ok_or_else(|| ScenarioError::new(key, "must be a string"))
}

/// A string value through the type's own parser, whose messages say what is accepted.
fn parsed<T: FromStr<Err = String>>(value: &Value) -> Result<T, String> {
    match value {
        Value::String(text) => text.parse(),
        other => Err(format!(
            "{} is not a string; write the value in quotes as on the command line",
            other
        )),
    }
}

fn duration(value: &Value) -> Result<Duration, String> {
    match value {
        Value::String(text) => parse_duration(text),
        other => Err(format!(
            "{other} is not a duration; accepted: a string with a unit such as \"3s\" or \"500ms\""
        )),
    }
}

fn count(value: &Value, min: usize, max: usize, accepted: &str) -> Result<usize, String> {
    match value.as_integer() {
        Some(n) if n >= min as i64 && n <= max as i64 => Ok(n as usize),
        _ => Err(format!("{value} is not accepted; accepted: {accepted}")),
    }
}

fn number(value: &Value, accepted: &str) -> Result<f64, String> {
    match value {
        Value::Integer(n) => Ok(*n as f64),
        Value::Float(x) if x.is_finite() => Ok(*x),
        other => Err(format!("{other} is not accepted; accepted: {accepted}")),
    }
}

fn positive(value: &Value, accepted: &str) -> Result<f64, String> {
    let x = number(value, accepted)?;
    if x > 0.0 {
        Ok(x)
    } else {
        Err(format!("{value} is not accepted; must be {accepted}"))
    }
}

fn non_negative(x: f64, accepted: &str) -> Result<f64, String> {
    if x >= 0.0 {
        Ok(x)
    } else {
        Err(format!("{x} is not accepted; must be {accepted}"))
    }
}

fn strategies(key: &str, value: &Value) -> Result<Vec<StrategyRef>, ScenarioError> {
    let registry = crate::registry::current();
    let accepted = || format!("a name or a list of names; {}", registry.accepted());
    let names: Vec<&str> = match value {
        Value::String(name) => vec![name.as_str()],
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| {
                v.as_str().ok_or_else(|| {
                    ScenarioError::new(key, format!("{v} is not a name; {}", accepted()))
                })
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(ScenarioError::new(key, accepted())),
    };
    if let Some(bad) = names.iter().find(|n| n.contains(',')) {
        return Err(ScenarioError::new(
            key,
            format!("'{bad}' is not one name; give a list of names"),
        ));
    }
    registry
        .resolve(&names.join(","))
        .map_err(|message| ScenarioError::new(key, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Resolution;

    #[test]
    fn a_full_scenario_parses_into_a_sweep() {
        let text = r#"
            description = "two sizes, three consumer counts"
            strategies = ["mutex", "pool"]
            consumers = [1, 5, 20]
            resolution = ["720p", "1920x1080"]
            fps = 60
            duration = "2s"
            warmup = "500ms"
            slow = "1:sleep:50ms"
            wait = ["block", "poll:1ms"]
            deadline_tolerance = 0.25
            pool_policy = "drop"
            interval = "250ms"
            [gates]
            p99_age = "5ms"
        "#;
        let scenario = Scenario::parse("demo", text).unwrap();
        let sweep = &scenario.sweep;
        assert_eq!(scenario.description, "two sizes, three consumer counts");
        let names: Vec<_> = sweep.strategies.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["mutex", "pool"]);
        assert_eq!(sweep.consumers, [1, 5, 20]);
        assert_eq!(
            sweep.resolution,
            [Resolution::new(1280, 720), Resolution::new(1920, 1080)]
        );
        assert_eq!(sweep.fps, [60.0]);
        assert_eq!(sweep.duration, [Duration::from_secs(2)]);
        assert_eq!(sweep.slow.len(), 1);
        assert_eq!(sweep.wait.len(), 2);
        assert_eq!(sweep.deadline_tolerance, [0.25]);
        assert_eq!(sweep.interval, Duration::from_millis(250));
        assert!(sweep
            .points()
            .iter()
            .all(|p| p.config.interval == Duration::from_millis(250)));
        assert!(scenario.gates.is_some());
        assert_eq!(sweep.points().len(), 2 * 3 * 2 * 2);
    }

    #[test]
    fn mistakes_name_the_key_and_what_is_accepted() {
        let cases = [
            (
                "consumer = 5",
                "consumer",
                "unknown key; accepted: description",
            ),
            ("consumers = 0", "consumers", "from 1 to 1024"),
            ("consumers = []", "consumers", "at least one value"),
            ("consumers = \"five\"", "consumers", "a whole number"),
            ("resolution = \"1080\"", "resolution", "480p, 720p"),
            ("resolution = 1080", "resolution", "in quotes"),
            (
                "strategies = [\"mutex\", \"lockfree\"]",
                "strategies",
                "mutex, rwlock",
            ),
            ("duration = 3", "duration", "\"3s\""),
            ("fps = -1", "fps", "above 0"),
            ("wait = \"nap\"", "wait", "block, spin, poll:<interval>"),
            ("pool_policy = \"shrink\"", "pool_policy", "grow, drop"),
            (
                "drop_policy = \"leaky\"",
                "drop_policy",
                "block, oldest, newest",
            ),
            ("drop_policy = 1", "drop_policy", "\"block\", \"oldest\""),
            ("queue_depth = 0", "queue_depth", "from 1 to 1024"),
            ("gates = 3", "gates", "table"),
            ("interval = \"1ms\"", "interval", "10ms"),
            ("interval = 1", "interval", "string"),
            ("consumers = [1, 5", "line 1", "not valid TOML"),
        ];
        for (text, key, accepted) in cases {
            let err = Scenario::parse("bad", text).unwrap_err();
            assert_eq!(err.key, key, "{text}: {err}");
            assert!(err.message.contains(accepted), "{text}: {err}");
            assert_eq!(err.to_string().lines().count(), 1, "{text}: {err}");
        }
    }

    #[test]
    fn consumer_commands_reach_every_run() {
        let text = r#"
            strategies = ["shm"]
            consumers = [2, 4]
            consumer_cmd = "1:python3 detect.py"
        "#;
        let scenario = Scenario::parse("mine", text).unwrap();
        let expected = ["1:python3 detect.py".parse().unwrap()];
        assert_eq!(scenario.sweep.consumer_cmd, expected);
        assert!(scenario
            .sweep
            .points()
            .iter()
            .all(|p| p.config.consumer_cmd == expected));
        assert_eq!(key_of_flag("--consumer-cmd"), "consumer_cmd");
    }

    #[test]
    fn flags_map_to_keys() {
        assert_eq!(key_of_flag("--deadline-tolerance"), "deadline_tolerance");
        assert_eq!(key_of_flag("--strategy"), "strategies");
        assert_eq!(key_of_flag("--consumers"), "consumers");
    }

    #[test]
    fn queue_keys_sweep_only_the_strategies_that_use_them() {
        let text = r#"
            strategies = ["queue", "pool", "broadcast"]
            drop_policy = ["block", "oldest", "newest"]
            queue_depth = [2, 4]
        "#;
        let scenario = Scenario::parse("queues", text).unwrap();
        let points = scenario.sweep.points();
        let count = |name| points.iter().filter(|p| p.strategy.name() == name).count();
        // queue: every policy at every depth; broadcast: every depth; pool: once.
        assert_eq!(count("queue"), 6);
        assert_eq!(count("broadcast"), 2);
        assert_eq!(count("pool"), 1);
        let pool = points.iter().find(|p| p.strategy.name() == "pool").unwrap();
        assert_eq!(pool.config.queue_depth, 2);
        assert_eq!(
            pool.config.drop_policy,
            fbench_strategies::DropPolicy::Block
        );
    }

    #[test]
    fn the_shipped_queue_scenario_parses() {
        let text = include_str!("../../scenarios/slow-consumer-queues.toml");
        let scenario = Scenario::parse("slow-consumer-queues", text).unwrap();
        // queue under three policies, pool, shm and broadcast once each
        assert_eq!(scenario.sweep.points().len(), 6);
    }
}
