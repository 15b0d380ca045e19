//! Scenario files: a named sweep in TOML, so that a comparison can be repeated by name
//! (`fbench run --scenario NAME`) instead of by retyping flags.
//!
//! A scenario *is* command-line arguments: each key stands for the `fbench run` flag of
//! the same name (`deadline_tolerance` is `--deadline-tolerance`, `strategies` is
//! `--strategy`), its value written as on the command line. The binary places these
//! arguments before the command line's and reads both with the one flag parser, a flag
//! given on the command line replacing the scenario's (as ripgrep reads its config file),
//! so values are parsed, checked and explained in exactly one place. This module only turns
//! the TOML into arguments; it knows no value's meaning.
//!
//! # Schema
//!
//! Every key is optional; a missing key takes the command's default. A key takes one value
//! or a list; a list of a run parameter is swept (every combination is run, see
//! [`crate::sweep`]). `slow` and `fault` take a list of repeated flags, not a sweep.
//!
//! | key | value | flag |
//! |---|---|---|
//! | `description` | string, one line shown by `fbench list scenarios` | |
//! | `source` | `"synthetic"`, `"camera-sim"`, `"y4m:PATH"`, `"v4l2:/dev/videoN"` | `--source` |
//! | `source_memory` | `"2GB"` | `--source-memory` |
//! | `strategies` | `"all"` or a list of strategy names | `--strategy` |
//! | `consumers` | integer or list, 1 to 1024 | `--consumers` |
//! | `resolution` | `"480p"`, `"720p"`, `"1080p"`, `"4k"`, `"WIDTHxHEIGHT"` or list | `--resolution` |
//! | `format` | `"rgb24"`, `"bgr24"`, `"yuyv"`, `"nv12"` … or list | `--format` |
//! | `fps` | number or list | `--fps` |
//! | `duration`, `warmup` | duration string (`"5s"`, `"500ms"`) or list | `--duration`, `--warmup` |
//! | `workload` | `"inspect"`, `"copy"`, `"busy:<dur>"`, `"sleep:<dur>"` or list | `--workload` |
//! | `slow` | `"COUNT:WORKLOAD"` or list of them; applies to every run, not swept | `--slow` |
//! | `wait` | `"block"`, `"spin"`, `"poll:<dur>"` or list | `--wait` |
//! | `verify` | `"stamps"`, `"full"`, `"off"` or list | `--verify` |
//! | `deadline_tolerance` | number or list | `--deadline-tolerance` |
//! | `pool_size` | integer or list | `--pool-size` |
//! | `pool_policy` | `"grow"`, `"drop"` or list | `--pool-policy` |
//! | `slots`, `slot_policy` | integer / `"drop"`, `"wait"` or list | `--slots`, `--slot-policy` |
//! | `queue_depth` | integer or list, 1 to 1024 | `--queue-depth` |
//! | `drop_policy` | `"block"`, `"oldest"`, `"newest"` or list | `--drop-policy` |
//! | `waker` | `"futex"`, `"condvar"` or list | `--waker` |
//! | `interval` | duration string | `--interval` |
//! | `fault` | `"stall:0@200ms:300ms"` or list of faults; every run | `--fault` |
//! | `consumer_cmd` | `"CMD"` or `"COUNT:CMD"`, or a list; the user's own consumer processes | `--consumer-cmd` |
//! | `gates` | table of gate settings, for the gating code | |
//! | `capacity` | table of `fbench capacity` settings (`budget = "20m"`, `max_fps = 240`, ...), for `fbench capacity` | |
//!
//! Any other key is refused, so that a misspelt key cannot silently fall back to a
//! default.

use toml::{Table, Value};

/// A parsed scenario file.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// The run flags the scenario stands for, in file order.
    pub args: Vec<ScenarioArg>,
    /// The `[gates]` table, left for the gating code to interpret.
    pub gates: Option<Table>,
    /// The `[capacity]` table, left for `fbench capacity` to interpret.
    pub capacity: Option<Table>,
}

/// One key of a scenario as command-line arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioArg {
    /// The key, as written (`deadline_tolerance`), for naming it in errors.
    pub key: String,
    /// The flag's argument id in the parser (`deadline_tolerance`; `strategy` for
    /// `strategies`): a flag given on the command line with this id replaces the key.
    pub id: String,
    /// The arguments: `["--consumers", "1,4"]`, or `["--slow", "a", "--slow", "b"]` for a
    /// repeated flag.
    pub argv: Vec<String>,
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
pub const KEYS: [&str; 31] = [
    "description",
    "source",
    "strategies",
    "consumers",
    "streams",
    "stream_phase",
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
    "slots",
    "slot_policy",
    "queue_depth",
    "drop_policy",
    "waker",
    "interval",
    "fault",
    "consumer_cmd",
    "remote",
    "link",
    "source_memory",
    "gates",
    "capacity",
];

/// Keys whose flag is repeated for each value instead of taking a comma-separated list.
const REPEATED: [&str; 3] = ["slow", "fault", "consumer_cmd"];

/// The scenario key that sets what a command-line flag sets (`--deadline-tolerance` ->
/// `deadline_tolerance`), for naming keys in validation errors.
pub fn key_of_flag(flag: &str) -> String {
    match flag {
        "--strategy" => "strategies".to_string(),
        other => other.trim_start_matches('-').replace('-', "_"),
    }
}

/// The parser's argument id of a key's flag (`strategies` -> `strategy`).
pub fn id_of_key(key: &str) -> String {
    match key {
        "strategies" => "strategy".to_string(),
        other => other.to_string(),
    }
}

/// A TOML value as it would be typed after its flag.
fn text_of(value: &Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Integer(n) => Ok(n.to_string()),
        Value::Float(x) => Ok(x.to_string()),
        Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "{other} is not accepted; give a value as on the command line, or a list of them"
        )),
    }
}

impl Scenario {
    /// Parse the text of a scenario called `name` into the arguments it stands for.
    ///
    /// ```
    /// use fbench_harness::scenario::Scenario;
    ///
    /// let scenario = Scenario::parse("demo", "consumers = [1, 4]\nslow = \"1:sleep:5ms\"\n").unwrap();
    /// let argv: Vec<String> = scenario.args.iter().flat_map(|a| a.argv.clone()).collect();
    /// assert_eq!(argv, ["--consumers", "1,4", "--slow", "1:sleep:5ms"]);
    /// ```
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

        let mut description = String::new();
        let mut args = Vec::new();
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
                "gates" | "capacity" => {
                    let table = value.as_table().ok_or_else(|| {
                        ScenarioError::new(key, format!("must be a table ([{key}])"))
                    })?;
                    if key == "gates" {
                        gates = Some(table.clone());
                    } else {
                        capacity = Some(table.clone());
                    }
                }
                _ => args.push(ScenarioArg {
                    key: key.to_string(),
                    id: id_of_key(key),
                    argv: argv_of(key, value)?,
                }),
            }
        }
        Ok(Scenario {
            name: name.to_string(),
            description,
            args,
            gates,
            capacity,
        })
    }

    /// Whether the file set nothing at all (an empty file is a mistake, not the defaults).
    pub fn is_empty(&self) -> bool {
        self.description.is_empty()
            && self.args.is_empty()
            && self.gates.is_none()
            && self.capacity.is_none()
    }
}

/// The arguments of one key: `--flag a,b`, or `--flag a --flag b` for a repeated flag.
///
/// ```
/// use fbench_harness::scenario::argv_of;
///
/// let value = toml::Value::Array(vec!["720p".into(), "1080p".into()]);
/// assert_eq!(argv_of("resolution", &value).unwrap(), ["--resolution", "720p,1080p"]);
/// ```
pub fn argv_of(key: &str, value: &Value) -> Result<Vec<String>, ScenarioError> {
    let values: Vec<&Value> = match value {
        Value::Array(items) if items.is_empty() => {
            return Err(ScenarioError::new(
                key,
                "the list is empty; give at least one value",
            ))
        }
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    let texts = values
        .into_iter()
        .map(text_of)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|message| ScenarioError::new(key, message))?;
    let flag = format!("--{}", id_of_key(key).replace('_', "-"));
    if REPEATED.contains(&key) {
        return Ok(texts
            .into_iter()
            .flat_map(|text| [flag.clone(), text])
            .collect());
    }
    if texts.len() > 1 {
        if let Some(bad) = texts.iter().find(|t| t.contains(',')) {
            return Err(ScenarioError::new(
                key,
                format!("'{bad}' is not one value; give a list of values"),
            ));
        }
    }
    Ok(vec![flag, texts.join(",")])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(scenario: &Scenario) -> Vec<String> {
        scenario.args.iter().flat_map(|a| a.argv.clone()).collect()
    }

    #[test]
    fn a_full_scenario_is_the_arguments_it_stands_for() {
        let text = r#"
            description = "two sizes, three consumer counts"
            strategies = ["mutex", "pool"]
            consumers = [1, 5, 20]
            resolution = ["720p", "1920x1080"]
            fps = 60
            duration = "2s"
            slow = ["1:sleep:50ms", "1:busy:1ms"]
            deadline_tolerance = 0.25
            fault = "stall:0@200ms:300ms"
            [gates]
            p99_age = "5ms"
        "#;
        let scenario = Scenario::parse("demo", text).unwrap();
        assert_eq!(scenario.description, "two sizes, three consumer counts");
        assert_eq!(
            argv(&scenario),
            [
                "--consumers",
                "1,5,20",
                "--deadline-tolerance",
                "0.25",
                "--duration",
                "2s",
                "--fault",
                "stall:0@200ms:300ms",
                "--fps",
                "60",
                "--resolution",
                "720p,1920x1080",
                "--slow",
                "1:sleep:50ms",
                "--slow",
                "1:busy:1ms",
                "--strategy",
                "mutex,pool",
            ]
        );
        let strategies = scenario
            .args
            .iter()
            .find(|a| a.key == "strategies")
            .unwrap();
        assert_eq!(strategies.id, "strategy");
        assert!(scenario.gates.is_some());
        assert!(!scenario.is_empty());
        assert!(Scenario::parse("empty", "# nothing\n").unwrap().is_empty());
    }

    #[test]
    fn mistakes_of_shape_name_the_key() {
        let cases = [
            (
                "consumer = 5",
                "consumer",
                "unknown key; accepted: description",
            ),
            ("consumers = []", "consumers", "at least one value"),
            ("consumers = [[1]]", "consumers", "as on the command line"),
            (
                "strategies = [\"mutex,pool\", \"shm\"]",
                "strategies",
                "not one value",
            ),
            ("gates = 3", "gates", "table"),
            ("description = 3", "description", "string"),
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
    fn flags_map_to_keys() {
        assert_eq!(key_of_flag("--deadline-tolerance"), "deadline_tolerance");
        assert_eq!(key_of_flag("--strategy"), "strategies");
        assert_eq!(key_of_flag("--consumers"), "consumers");
        assert_eq!(id_of_key("strategies"), "strategy");
    }
}
