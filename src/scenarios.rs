//! The scenarios shipped in `scenarios/` (compiled in, so `--scenario NAME` works from any
//! directory) and loading a scenario by name or path.

use std::path::Path;

use fbench_harness::scenario::Scenario;

use crate::UsageError;

/// Built-in scenarios: name, and the text of `scenarios/<name>.toml`.
const BUILT_IN: [(&str, &str); 7] = [
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
        for (name, text) in BUILT_IN {
            let scenario = Scenario::parse(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!scenario.description.is_empty(), "{name}");
            scenario
                .sweep
                .validate(u64::MAX)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
