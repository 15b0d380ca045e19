//! The scenarios shipped in `scenarios/` (compiled in, so `--scenario NAME` works from any
//! directory) and loading a scenario by name or path.

use std::ffi::OsString;
use std::path::Path;

use clap::CommandFactory;
use fbench_harness::scenario::{argv_of, Scenario, ScenarioArg};

use crate::UsageError;

/// The subcommands whose `--scenario` is run flags (`gate --scenario` reads only the
/// `[gates]` table, in the gate's own code).
const RUNNING: [&str; 3] = ["run", "sweep", "capacity"];

/// The keys of a scenario's `[capacity]` table: `fbench capacity`'s flags of those names.
const CAPACITY_KEYS: [&str; 14] = [
    "find",
    "slo_age",
    "max_loss",
    "max_pss",
    "precision",
    "budget",
    "start",
    "max_fps",
    "max_consumers",
    "max_streams",
    "trials",
    "trial_duration",
    "confirm_duration",
    "warmup",
];

/// The command line with the `--scenario`'s arguments placed before the command line's
/// own, so that one parser reads both: a flag given on the command line replaces the
/// scenario's value of it (ripgrep reads its config file this way). Each key is first
/// parsed alone, so that a bad value names the file and the key. Arguments without a
/// running subcommand or a `--scenario` come back unchanged.
pub fn with_scenario(raw: Vec<OsString>) -> Result<Vec<OsString>, UsageError> {
    let Some(sub) = raw.get(1).and_then(|s| s.to_str()).map(str::to_string) else {
        return Ok(raw);
    };
    if !RUNNING.contains(&sub.as_str()) {
        return Ok(raw);
    }
    let Some(name) = scenario_of(&raw[2..]) else {
        return Ok(raw);
    };
    // The command line alone: if it is wrong, the parser says so on the usual path.
    let Ok(matches) = crate::cli::Cli::command().try_get_matches_from(&raw) else {
        return Ok(raw);
    };
    let explicit = crate::explicit_args(&matches);
    let loaded = load(&name)?;
    if loaded.scenario.is_empty() {
        return Err(UsageError(format!(
            "--scenario: {} is empty; a scenario sets at least one key (e.g. strategies = \"all\"), see scenarios/quick.toml",
            loaded.file
        )));
    }
    let mut args: Vec<(String, ScenarioArg)> = Vec::new();
    for arg in &loaded.scenario.args {
        // A capacity trial lasts --trial-duration: the scenario's run length is not its.
        if sub == "capacity" && arg.id == "duration" {
            continue;
        }
        args.push((arg.key.clone(), arg.clone()));
    }
    if sub == "capacity" {
        if let Some(table) = &loaded.scenario.capacity {
            for (key, value) in table {
                let named = format!("capacity.{key}");
                if !CAPACITY_KEYS.contains(&key.as_str()) {
                    return Err(UsageError(format!(
                        "{}: {named}: unknown key; accepted: {}",
                        loaded.file,
                        CAPACITY_KEYS.join(", ")
                    )));
                }
                let arg = ScenarioArg {
                    key: key.clone(),
                    id: key.clone(),
                    argv: argv_of(key, value)
                        .map_err(|e| UsageError(format!("{}: capacity.{e}", loaded.file)))?,
                };
                args.push((named, arg));
            }
        }
    }
    if sub != "capacity" {
        if let Some(table) = &loaded.scenario.gates {
            for (key, value) in table {
                let argv = gate_argv(key, value)
                    .map_err(|m| UsageError(format!("{}: gates.{key}: {m}", loaded.file)))?;
                let id = match key.as_str() {
                    "max_regression" | "strict" | "allow_torn" | "normalize" => key.clone(),
                    _ => "gate".to_string(),
                };
                args.push((
                    format!("gates.{key}"),
                    ScenarioArg {
                        key: key.clone(),
                        id,
                        argv,
                    },
                ));
            }
        }
    }
    // A later key of the same flag wins (the [capacity] table's warmup over the run's);
    // the gates' keys add up (`gate = [...]` and `p99 = "2ms"` are both `--gate`).
    let mut kept: Vec<(String, ScenarioArg)> = Vec::new();
    for (named, arg) in args {
        if !named.starts_with("gates.") {
            kept.retain(|(_, earlier)| earlier.id != arg.id);
        }
        kept.push((named, arg));
    }
    let mut merged: Vec<OsString> = raw[..2].to_vec();
    for (named, arg) in kept.iter().filter(|(_, arg)| !arg.argv.is_empty()) {
        let mut alone: Vec<OsString> = raw[..2].to_vec();
        alone.extend(arg.argv.iter().map(OsString::from));
        if let Err(err) = crate::cli::Cli::command().try_get_matches_from(alone) {
            return Err(UsageError(format!(
                "{}: {named}: {}",
                loaded.file,
                clap_message(&err)
            )));
        }
        if !explicit.contains(&arg.id) {
            merged.extend(arg.argv.iter().map(OsString::from));
        }
    }
    merged.extend(raw[2..].iter().cloned());
    Ok(merged)
}

/// A key of the `[gates]` table as gate flags: `gate` and `max_regression` (a string or a
/// list) are `--gate` and `--max-regression`; `strict`, `allow_torn` and `normalize`
/// (true or false) their switches; any other key is a metric and its limit, `p99 = "2ms"`
/// being `--gate p99<=2ms` (the value may carry its own comparison, `"<2ms"`).
fn gate_argv(key: &str, value: &toml::Value) -> Result<Vec<String>, String> {
    let strings = || -> Result<Vec<String>, String> {
        let accepted = "accepted: a string or a list of strings, e.g. [\"p99<5ms\", \"torn==0\"]";
        match value {
            toml::Value::String(s) => Ok(vec![s.clone()]),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("{v} is not a string; {accepted}"))
                })
                .collect(),
            other => Err(format!("{other} is not accepted; {accepted}")),
        }
    };
    let repeated = |flag: &str, values: Vec<String>| {
        values
            .into_iter()
            .flat_map(|v| [flag.to_string(), v])
            .collect::<Vec<_>>()
    };
    match key {
        "gate" => Ok(repeated("--gate", strings()?)),
        "max_regression" => Ok(repeated("--max-regression", strings()?)),
        "strict" | "allow_torn" | "normalize" => match value.as_bool() {
            Some(true) => Ok(vec![format!("--{}", key.replace('_', "-"))]),
            Some(false) => Ok(Vec::new()),
            None => Err(format!("{value} is not accepted; accepted: true, false")),
        },
        metric => {
            let limit = value.as_str().ok_or_else(|| {
                format!(
                    "{value} is not accepted; accepted: a limit in quotes, e.g. \"2ms\" or \"<2ms\""
                )
            })?;
            let op = if limit.trim_start().starts_with(['<', '=']) {
                ""
            } else {
                "<="
            };
            Ok(vec!["--gate".to_string(), format!("{metric}{op}{limit}")])
        }
    }
}

/// The value of `--scenario` among a subcommand's arguments.
fn scenario_of(args: &[OsString]) -> Option<String> {
    let mut args = args.iter().map(|a| a.to_string_lossy());
    while let Some(arg) = args.next() {
        if arg == "--" {
            return None;
        }
        if arg == "--scenario" {
            return args.next().map(|v| v.into_owned());
        }
        if let Some(value) = arg.strip_prefix("--scenario=") {
            return Some(value.to_string());
        }
    }
    None
}

/// What a value parser said about a value, without clap's framing ("invalid value … for
/// '--flag <FLAG>'"): the scenario's key names the place instead.
fn clap_message(err: &clap::Error) -> String {
    match std::error::Error::source(err) {
        Some(source) => source.to_string(),
        None => err
            .render()
            .to_string()
            .lines()
            .next()
            .unwrap_or("invalid value")
            .trim_start_matches("error: ")
            .to_string(),
    }
}

/// Built-in scenarios: name, and the text of `scenarios/<name>.toml`.
const BUILT_IN: [(&str, &str); 8] = [
    ("quick", include_str!("../scenarios/quick.toml")),
    ("seed-claims", include_str!("../scenarios/seed-claims.toml")),
    (
        "slow-consumer",
        include_str!("../scenarios/slow-consumer.toml"),
    ),
    (
        "many-consumers",
        include_str!("../scenarios/many-consumers.toml"),
    ),
    ("4k60", include_str!("../scenarios/4k60.toml")),
    (
        "slow-consumer-queues",
        include_str!("../scenarios/slow-consumer-queues.toml"),
    ),
    (
        "seed-capacity",
        include_str!("../scenarios/seed-capacity.toml"),
    ),
    (
        "seed-streams",
        include_str!("../scenarios/seed-streams.toml"),
    ),
];

/// A loaded scenario and the file name its errors should name.
pub struct Loaded {
    pub scenario: Scenario,
    pub file: String,
}

/// `NAME` (built-in) or a path to a TOML file: anything with a `/` or ending in `.toml`, or
/// an existing file.
pub fn load(name_or_path: &str) -> Result<Loaded, UsageError> {
    let looks_like_path = name_or_path.contains(std::path::MAIN_SEPARATOR)
        || name_or_path.contains('/')
        || name_or_path.ends_with(".toml")
        || Path::new(name_or_path).is_file();
    if !looks_like_path {
        let Some((name, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) else {
            let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            return Err(UsageError(format!(
                "--scenario: unknown scenario '{name_or_path}'; accepted: {} or a path to a .toml file",
                names.join(", ")
            )));
        };
        let file = format!("scenarios/{name}.toml");
        let scenario =
            Scenario::parse(name, text).map_err(|e| UsageError(format!("{file}: {e}")))?;
        return Ok(Loaded { scenario, file });
    }
    let path = Path::new(name_or_path);
    let text = crate::input::read_text(path).map_err(|e| {
        UsageError(format!(
            "--scenario: cannot read {}: {e}; give a built-in name (see `fbench list scenarios`) or a TOML file",
            path.display()
        ))
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".to_string());
    let file = path.display().to_string();
    let scenario = Scenario::parse(&name, &text).map_err(|e| UsageError(format!("{file}: {e}")))?;
    Ok(Loaded { scenario, file })
}

/// Name and description of every built-in scenario.
pub fn list() -> Vec<(&'static str, String)> {
    BUILT_IN
        .iter()
        .map(|(name, text)| {
            let description = Scenario::parse(name, text)
                .map(|s| s.description)
                .unwrap_or_else(|e| format!("(broken: {e})"));
            (*name, description)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_scenario_parses_and_validates() {
        fbench_harness::registry::install(fbench_harness::Registry::builtin());
        for (name, text) in BUILT_IN {
            let scenario = Scenario::parse(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!scenario.description.is_empty(), "{name}");
            let command = if scenario.capacity.is_some() {
                "capacity"
            } else {
                "sweep"
            };
            let argv = with_scenario(
                ["fbench", command, "--scenario", name]
                    .map(OsString::from)
                    .to_vec(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(argv.len() > 4, "{name}: {argv:?}");
        }
    }

    fn expanded(args: &[&str]) -> Vec<String> {
        fbench_harness::registry::install(fbench_harness::Registry::builtin());
        with_scenario(args.iter().map(OsString::from).collect())
            .unwrap()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn the_scenario_goes_first_and_a_flag_given_replaces_its_key() {
        let argv = expanded(&[
            "fbench",
            "run",
            "--scenario",
            "quick",
            "-c",
            "3",
            "--fault",
            "stall:0@200ms:300ms",
        ]);
        // quick's consumers (1,4) are gone: -c was given; its other keys stay, before the
        // command line's arguments.
        assert!(!argv.contains(&"1,4".to_string()), "{argv:?}");
        let at = |flag: &str| argv.iter().position(|a| a == flag).unwrap();
        assert!(at("--resolution") < at("--scenario"));
        assert!(at("-c") > at("--scenario"));
        assert_eq!(argv.last().unwrap(), "stall:0@200ms:300ms");
    }

    #[test]
    fn the_gates_table_is_gate_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gated.toml");
        std::fs::write(
            &file,
            "consumers = 1\n[gates]\ngate = [\"torn==0\"]\np99 = \"2ms\"\nstrict = true\nnormalize = false\n",
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let argv = expanded(&["fbench", "run", "--scenario", file]);
        let tail = &argv[2..argv.len() - 2];
        assert_eq!(
            tail,
            [
                "--consumers",
                "1",
                "--gate",
                "torn==0",
                "--gate",
                "p99<=2ms",
                "--strict"
            ]
        );
        // A --gate typed replaces the scenario's gates; its other keys stay.
        let argv = expanded(&["fbench", "run", "--scenario", file, "--gate", "p50<1s"]);
        assert_eq!(
            argv.iter().filter(|a| *a == "--gate").count(),
            1,
            "{argv:?}"
        );
        assert!(argv.contains(&"--strict".to_string()));
    }

    #[test]
    fn commands_without_a_scenario_are_unchanged() {
        assert_eq!(
            expanded(&["fbench", "run", "-c", "3"]),
            ["fbench", "run", "-c", "3"]
        );
        assert_eq!(expanded(&["fbench", "list"]), ["fbench", "list"]);
    }
}
