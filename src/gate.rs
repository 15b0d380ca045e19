//! CI regression gating from the command line: the gate flags of `run` and `sweep`
//! (`--baseline`, `--save-baseline`, `--repeat`, `--max-regression`, `--gate`, …) and
//! `fbench gate`, which compares two reports without running anything.
//!
//! Everything the user gave is checked before the first run (baseline files, gate
//! expressions, output paths), so a mistake costs a second, not a benchmark. The judging
//! itself is `fbench_reports::gate`; this module reads files, prints and writes.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use fbench_harness::scenario::Scenario;
use fbench_reports::gate::{
    check_report, ci, evaluate, render_markdown, render_terminal, AbsoluteGate, GateOptions,
    GateSet, Metric, Param, RelativeGate, DEFAULT_MAX_REGRESSION,
};
use fbench_reports::{ExportFormat, Report};

use crate::{input, scenarios, writable_file, write_atomically, UsageError};

/// Exit code when a gate fails: a regression, an absolute limit exceeded, torn frames, a
/// baseline that matched no run (unless `--allow-unmatched`), or (with `--strict`) a run in
/// one report only. Distinct from 1 (failure at run time) and 2
/// (usage error).
pub const EXIT_GATE_FAILED: u8 = 3;

/// Trials per configuration when a baseline is saved or compared and `--repeat` is not
/// given: enough for the median to shrug off two bad trials.
pub const BASELINE_REPEAT: usize = 5;

/// Where baselines saved by name live, under `--out`.
const BASELINES_DIR: &str = "baselines";

/// `fbench gate` resolves names under the default output directory.
const DEFAULT_OUT: &str = "target/fbench";

/// Exit code when nothing failed but the gate could not judge (a slowdown on a busier
/// machine, a figure not measured), unless `--inconclusive pass|fail` says otherwise: a CI
/// job must be able to tell "could not judge" from "passed".
pub const EXIT_GATE_INCONCLUSIVE: u8 = 4;

/// The gate could not judge; the message is the one line naming the runs and why.
#[derive(Debug)]
pub struct GateInconclusive(pub String);

impl std::fmt::Display for GateInconclusive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GateInconclusive {}

/// What an inconclusive outcome counts as when the user chose (without a choice: exit 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Inconclusive {
    // Exit 0, as a pass.
    Pass,
    // Exit 3, as a failed gate.
    Fail,
}

/// A gate failed; the message is the one-line summary.
#[derive(Debug)]
pub struct GateFailed(pub String);

impl std::fmt::Display for GateFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GateFailed {}

/// The gates and gate outputs, shared by `run`, `sweep` and `gate`.
#[derive(Debug, Default, Args)]
pub struct GateRules {
    /// Relative gate METRIC:PERCENT, e.g. p99:10%: fail when the median of the trials grows
    /// by more than PERCENT over the baseline's and leaves its spread (above the slowest
    /// baseline trial, with even the fastest trial above the baseline median).
    /// Metrics: p50, p90, p99, p999, max (of the age), acquire.|publish.|e2e.<point>,
    /// drop_rate, peak_pss. May be repeated [default with a baseline: p99:10%].
    #[arg(long, value_name = "METRIC:PERCENT", value_parser = |s: &str| s.parse::<RelativeGate>())]
    pub max_regression: Vec<RelativeGate>,

    /// Absolute gate METRIC<VALUE, METRIC<=VALUE or METRIC==VALUE, e.g. 'p99<2ms',
    /// 'drop_rate<1%', 'peak_pss<200MB', 'torn==0', on the median of the trials (torn and
    /// out_of_order: the worst trial). May be repeated.
    #[arg(long = "gate", value_name = "EXPR", value_parser = |s: &str| s.parse::<AbsoluteGate>())]
    pub gate: Vec<AbsoluteGate>,

    /// A run present in only one of the two reports fails the gate.
    #[arg(long)]
    pub strict: bool,

    /// Accept a baseline none of whose runs matches a run of the current report (the gate
    /// fails otherwise: it compared nothing).
    #[arg(long)]
    pub allow_unmatched: bool,

    /// Do not fail on torn frames (every gating checks torn==0 otherwise).
    #[arg(long)]
    pub allow_torn: bool,

    /// Do not fail on lost consumers (every gating checks consumers_lost==0 otherwise).
    #[arg(long)]
    pub allow_lost: bool,

    /// Count a gate that could not judge (a slowdown on a busier machine, a figure not
    /// measured) as passed (exit 0) or failed (exit 3); without this flag it exits 4.
    #[arg(long, value_name = "pass|fail", value_enum)]
    pub inconclusive: Option<Inconclusive>,

    /// Compare latencies over each report's own calibration (age and e2e over the futex
    /// wake p50, acquire and publish over one frame copy), so a uniformly slower machine
    /// is not read as a regression.
    #[arg(long)]
    pub normalize: bool,

    /// Match runs while ignoring these parameters (comma-separated run flag names, e.g.
    /// duration,warmup).
    #[arg(long, value_name = "PARAM", value_delimiter = ',', value_parser = |s: &str| s.parse::<Param>())]
    pub ignore_param: Vec<Param>,

    /// Write the gate table as Markdown here (e.g. for $GITHUB_STEP_SUMMARY).
    #[arg(long, value_name = "PATH")]
    pub summary_md: Option<PathBuf>,

    /// Write github-action-benchmark's customSmallerIsBetter JSON here.
    #[arg(long, value_name = "PATH")]
    pub export_github_benchmark: Option<PathBuf>,

    /// Write Bencher Metric Format JSON here.
    #[arg(long, value_name = "PATH")]
    pub export_bencher: Option<PathBuf>,
}

/// The gate flags of `fbench run` and `fbench sweep`.
#[derive(Debug, Default, Args)]
pub struct GateFlags {
    /// After the run, compare with this baseline: a name saved with --save-baseline
    /// (OUT/baselines/NAME.json) or the path of a JSON report. Exit code 3 when a gate fails.
    #[arg(long, value_name = "NAME|PATH")]
    pub baseline: Option<String>,

    /// Also save the report as a baseline: a name (OUT/baselines/NAME.json) or a .json path.
    #[arg(long, value_name = "NAME|PATH")]
    pub save_baseline: Option<String>,

    /// Run every configuration N times (trials, interleaved); gates compare the median of
    /// the trials [default: 5 with --baseline or --save-baseline, else 1].
    #[arg(long, value_name = "N", value_parser = crate::flags::parse_repeat)]
    pub repeat: Option<usize>,

    #[command(flatten)]
    pub rules: GateRules,
}

/// `fbench gate`: compare two existing reports.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// The reference report: a saved baseline's name (target/fbench/baselines/NAME.json) or
    /// the path of a JSON report.
    #[arg(long, value_name = "NAME|PATH")]
    pub baseline: String,

    /// The report to judge: a saved baseline's name or the path of a JSON report.
    #[arg(long, value_name = "NAME|PATH")]
    pub current: String,

    /// Take the gates of this scenario's [gates] table (a built-in name or a TOML file);
    /// gate flags given replace its values.
    #[arg(long, value_name = "NAME|PATH")]
    pub scenario: Option<String>,

    #[command(flatten)]
    pub rules: GateRules,
}

/// The `[gates]` table of a scenario file, checked.
#[derive(Debug, Default)]
pub struct ScenarioGates {
    relative: Vec<RelativeGate>,
    absolute: Vec<AbsoluteGate>,
    strict: bool,
    allow_torn: bool,
    allow_lost: bool,
    normalize: bool,
}

const GATE_KEYS: &str =
    "max_regression, gate, strict, allow_torn, allow_lost, normalize, or a metric with its limit (p99 = \"2ms\")";

/// Read a scenario's `[gates]` table:
///
/// ```toml
/// [gates]
/// max_regression = ["p99:10%", "peak_pss:20%"]   # or one string
/// gate = ["p99<5ms", "drop_rate<1%"]
/// strict = true                                  # also allow_torn, normalize
/// "e2e.p99" = "30ms"                             # a metric and its limit: e2e.p99<=30ms
/// ```
pub fn from_scenario(scenario: &Scenario, file: &str) -> Result<ScenarioGates, UsageError> {
    let mut gates = ScenarioGates::default();
    let Some(table) = &scenario.gates else {
        return Ok(gates);
    };
    // Through JSON, whose value type this crate can name; the table's shape is unchanged.
    let table = serde_json::to_value(table)
        .map_err(|e| UsageError(format!("{file}: gates: cannot be read: {e}")))?;
    let Some(table) = table.as_object() else {
        return Ok(gates);
    };
    for (key, value) in table {
        let error = |message: String| UsageError(format!("{file}: gates.{key}: {message}"));
        let flag = |value: &serde_json::Value| {
            value
                .as_bool()
                .ok_or_else(|| error(format!("{value} is not accepted; accepted: true, false")))
        };
        match key.as_str() {
            "max_regression" => {
                gates.relative = strings(value)
                    .map_err(error)?
                    .into_iter()
                    .map(|s| s.parse())
                    .collect::<Result<_, _>>()
                    .map_err(error)?
            }
            "gate" => {
                gates.absolute = strings(value)
                    .map_err(error)?
                    .into_iter()
                    .map(|s| s.parse())
                    .collect::<Result<_, _>>()
                    .map_err(error)?
            }
            "strict" => gates.strict = flag(value)?,
            "allow_torn" => gates.allow_torn = flag(value)?,
            "allow_lost" => gates.allow_lost = flag(value)?,
            "normalize" => gates.normalize = flag(value)?,
            metric if metric.parse::<Metric>().is_ok() => {
                // `p99 = "2ms"` is `p99<=2ms`; the value may carry its own comparison.
                let limit = value.as_str().ok_or_else(|| {
                    error(format!(
                        "{value} is not accepted; accepted: a limit in quotes, e.g. \"2ms\" or \"<2ms\""
                    ))
                })?;
                let op = if limit.trim_start().starts_with(['<', '=']) {
                    ""
                } else {
                    "<="
                };
                gates
                    .absolute
                    .push(format!("{metric}{op}{limit}").parse().map_err(error)?);
            }
            _ => return Err(error(format!("unknown key; accepted: {GATE_KEYS}"))),
        }
    }
    Ok(gates)
}

fn strings(value: &serde_json::Value) -> Result<Vec<&str>, String> {
    let accepted = "accepted: a string or a list of strings, e.g. [\"p99<5ms\", \"torn==0\"]";
    match value {
        serde_json::Value::String(s) => Ok(vec![s.as_str()]),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| format!("{v} is not a string; {accepted}"))
            })
            .collect(),
        other => Err(format!("{other} is not accepted; {accepted}")),
    }
}

/// A path is what ends in `.json`; anything else must be a name. (`../../x` is neither: a
/// name never leaves the baselines directory.)
fn is_path(text: &str) -> bool {
    text.ends_with(".json")
}

/// A baseline given as `NAME` (under `out/baselines/`) or as a path ending in `.json`.
fn report_path(text: &str, flag: &str, out: &Path) -> Result<PathBuf, UsageError> {
    if is_path(text) {
        return Ok(PathBuf::from(text));
    }
    let is_name = !text.is_empty()
        && !text.starts_with('.')
        && !text.contains("..")
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !is_name {
        return Err(UsageError(format!(
            "{flag}: '{text}' is not a baseline name; accepted: letters, digits, '.', '_' and '-' (no '/', no '..'), or a path ending in .json"
        )));
    }
    Ok(out.join(BASELINES_DIR).join(format!("{text}.json")))
}

/// Read a report for `flag`, refusing what is not one, another schema, one without runs,
/// or one whose figures cannot be true.
fn load_report(path: &Path, flag: &str) -> Result<Report, UsageError> {
    let text = input::read_text(path).map_err(|e| match e {
        input::InputError::NotFound => UsageError(format!(
            "{flag}: {} does not exist; save a baseline first (fbench run --save-baseline NAME) or give a report written with --json",
            path.display()
        )),
        other => UsageError(format!("{flag}: cannot read {}: {other}", path.display())),
    })?;
    let report = Report::from_json(&text)
        .map_err(|e| UsageError(format!("{flag}: {}: {e}", path.display())))?;
    check_report(&report).map_err(|e| UsageError(format!("{flag}: {}: {e}", path.display())))?;
    if report.runs.is_empty() {
        return Err(UsageError(format!(
            "{flag}: {} has no runs (a calibration report?); give a report written by fbench run or fbench sweep",
            path.display()
        )));
    }
    Ok(report)
}

/// Where the gate's own outputs go, checked up front.
struct Outputs {
    summary_md: Option<PathBuf>,
    github_benchmark: Option<PathBuf>,
    bencher: Option<PathBuf>,
}

impl Outputs {
    fn check(rules: &GateRules) -> anyhow::Result<Outputs> {
        let check = |path: &Option<PathBuf>, flag: &str| {
            path.clone().map(|p| writable_file(p, flag)).transpose()
        };
        Ok(Outputs {
            summary_md: check(&rules.summary_md, "--summary-md")?,
            github_benchmark: check(&rules.export_github_benchmark, "--export-github-benchmark")?,
            bencher: check(&rules.export_bencher, "--export-bencher")?,
        })
    }

    fn any(&self) -> bool {
        self.summary_md.is_some() || self.github_benchmark.is_some() || self.bencher.is_some()
    }
}

/// The gates in force: flags replace the scenario's values of the same kind; a baseline
/// without any relative gate gets the default one.
fn gate_set(rules: &GateRules, scenario: &ScenarioGates, has_baseline: bool) -> GateSet {
    let mut relative = if rules.max_regression.is_empty() {
        scenario.relative.clone()
    } else {
        rules.max_regression.clone()
    };
    if has_baseline && relative.is_empty() {
        relative.push(DEFAULT_MAX_REGRESSION);
    }
    GateSet {
        relative,
        absolute: if rules.gate.is_empty() {
            scenario.absolute.clone()
        } else {
            rules.gate.clone()
        },
        allow_torn: rules.allow_torn || scenario.allow_torn,
        allow_lost: rules.allow_lost || scenario.allow_lost,
    }
}

fn gate_options(rules: &GateRules, scenario: &ScenarioGates) -> GateOptions {
    GateOptions {
        strict: rules.strict || scenario.strict,
        normalize: rules.normalize || scenario.normalize,
        ignore: rules.ignore_param.clone(),
        allow_unmatched: rules.allow_unmatched,
    }
}

/// What a `run` or `sweep` does about gating, decided before it runs.
pub struct Gating {
    baseline: Option<(Report, PathBuf)>,
    save_to: Option<PathBuf>,
    /// Trials per configuration.
    pub repeat: usize,
    gates: GateSet,
    options: GateOptions,
    outputs: Outputs,
    inconclusive: Option<Inconclusive>,
    /// Judge the report after the run (a baseline, an absolute gate or a gate output).
    active: bool,
}

/// Check the gate flags of a run and load its baseline, before anything runs.
pub fn prepare(
    flags: &GateFlags,
    scenario: Option<ScenarioGates>,
    out: &Path,
) -> anyhow::Result<Gating> {
    let rules = &flags.rules;
    if flags.baseline.is_none() {
        let needs_baseline = [
            ("--max-regression", !rules.max_regression.is_empty()),
            ("--strict", rules.strict),
            ("--normalize", rules.normalize),
            ("--ignore-param", !rules.ignore_param.is_empty()),
            ("--allow-unmatched", rules.allow_unmatched),
        ];
        if let Some((flag, _)) = needs_baseline.iter().find(|(_, given)| *given) {
            return Err(UsageError(format!(
                "{flag}: compares with a baseline; add --baseline NAME|PATH"
            ))
            .into());
        }
    }
    let baseline = match &flags.baseline {
        Some(text) => {
            let path = report_path(text, "--baseline", out)?;
            Some((load_report(&path, "--baseline")?, path))
        }
        None => None,
    };
    let scenario = scenario.unwrap_or_default();
    let gates = gate_set(rules, &scenario, baseline.is_some());
    let options = gate_options(rules, &scenario);
    if let Some((report, path)) = &baseline {
        // The baseline alone shows mistakes of matching or normalising now, not after the
        // run.
        evaluate(Some(report), report, &gates, &options)
            .map_err(|e| UsageError(format!("{e} ({})", path.display())))?;
    }
    // A path must be writable as given; a name's directory is made below.
    let save_to = match &flags.save_baseline {
        Some(text) if is_path(text) => Some(writable_file(PathBuf::from(text), "--save-baseline")?),
        Some(text) => Some(report_path(text, "--save-baseline", out)?),
        None => None,
    };
    let outputs = Outputs::check(rules)?;
    let active = baseline.is_some() || !gates.absolute.is_empty() || outputs.any();
    let repeat = flags
        .repeat
        .unwrap_or(if baseline.is_some() || save_to.is_some() {
            BASELINE_REPEAT
        } else {
            1
        });
    // Last, once everything else is known to be right: the directory of named baselines.
    if let Some(path) = &save_to {
        let dir = crate::parent_dir(path);
        std::fs::create_dir_all(dir).map_err(|e| {
            UsageError(format!(
                "--save-baseline: cannot create directory {}: {e}",
                dir.display()
            ))
        })?;
        writable_file(path.clone(), "--save-baseline")?;
    }
    Ok(Gating {
        baseline,
        save_to,
        repeat,
        gates,
        options,
        outputs,
        inconclusive: rules.inconclusive,
        active,
    })
}

impl Gating {
    /// After the run: save the baseline, then judge. A failed gate is a [`GateFailed`].
    pub fn finish(self, report: &Report) -> anyhow::Result<()> {
        if let Some(path) = &self.save_to {
            let json = ExportFormat::Json.exporter().render(report)?;
            write_atomically(path, &json)
                .with_context(|| format!("saving the baseline {}", path.display()))?;
            println!("Baseline saved: {}", path.display());
        }
        if !self.active {
            return Ok(());
        }
        judge(
            self.baseline.as_ref().map(|(r, p)| (r, p.as_path())),
            report,
            &self.gates,
            &self.options,
            &self.outputs,
            self.inconclusive,
        )
    }
}

/// Compare, print the table, write the outputs; `Err(GateFailed)` when a gate failed,
/// `Err(GateInconclusive)` when it could not judge (as `inconclusive` says).
fn judge(
    baseline: Option<(&Report, &Path)>,
    current: &Report,
    gates: &GateSet,
    options: &GateOptions,
    outputs: &Outputs,
    inconclusive: Option<Inconclusive>,
) -> anyhow::Result<()> {
    let outcome = evaluate(baseline.map(|(r, _)| r), current, gates, options)
        .map_err(|e| UsageError(e.to_string()))?;
    match baseline {
        Some((_, path)) => println!("\nGate against the baseline {}:", path.display()),
        None => println!("\nGate (absolute limits, no baseline):"),
    }
    print!("{}", render_terminal(&outcome, None));
    if let Some(path) = &outputs.summary_md {
        write_atomically(path, render_markdown(&outcome).as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        println!("Gate summary (Markdown): {}", path.display());
    }
    let metrics = ci::exported_metrics(gates);
    if let Some(path) = &outputs.github_benchmark {
        write_atomically(path, &ci::github_benchmark(current, &metrics)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("github-action-benchmark JSON: {}", path.display());
    }
    if let Some(path) = &outputs.bencher {
        write_atomically(path, &ci::bencher(current, &metrics)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("Bencher Metric Format JSON: {}", path.display());
    }
    if !outcome.passed() {
        return Err(GateFailed(outcome.summary()).into());
    }
    match inconclusive {
        _ if !outcome.inconclusive() => Ok(()),
        Some(Inconclusive::Pass) => Ok(()),
        Some(Inconclusive::Fail) => Err(GateFailed(outcome.inconclusive_summary()).into()),
        None => Err(GateInconclusive(outcome.inconclusive_summary()).into()),
    }
}

/// `fbench gate --baseline B --current C`.
pub fn command(args: GateArgs) -> anyhow::Result<()> {
    let out = Path::new(DEFAULT_OUT);
    let baseline_path = report_path(&args.baseline, "--baseline", out)?;
    let current_path = report_path(&args.current, "--current", out)?;
    let baseline = load_report(&baseline_path, "--baseline")?;
    let current = load_report(&current_path, "--current")?;
    let scenario = match &args.scenario {
        Some(name) => {
            let loaded = scenarios::load(name)?;
            from_scenario(&loaded.scenario, &loaded.file)?
        }
        None => ScenarioGates::default(),
    };
    let gates = gate_set(&args.rules, &scenario, true);
    let options = gate_options(&args.rules, &scenario);
    let outputs = Outputs::check(&args.rules)?;
    judge(
        Some((&baseline, &baseline_path)),
        &current,
        &gates,
        &options,
        &outputs,
        args.rules.inconclusive,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_are_names_or_paths() {
        let out = Path::new("target/fbench");
        assert_eq!(
            report_path("main", "--baseline", out).unwrap(),
            Path::new("target/fbench/baselines/main.json")
        );
        assert_eq!(
            report_path("pr-12.v2", "--baseline", out).unwrap(),
            Path::new("target/fbench/baselines/pr-12.v2.json")
        );
        assert_eq!(
            report_path("b.json", "--baseline", out).unwrap(),
            Path::new("b.json")
        );
        assert_eq!(
            report_path("../x/b.json", "--baseline", out).unwrap(),
            Path::new("../x/b.json")
        );
        for bad in [
            "",
            "a b",
            ".hidden",
            "naïve",
            "../../x",
            "a/b",
            "x..y",
            "/dev/zero",
        ] {
            let err = report_path(bad, "--save-baseline", out).unwrap_err().0;
            assert!(err.starts_with("--save-baseline: "), "{err}");
            assert!(err.contains("accepted: letters, digits"), "{err}");
        }
    }

    #[test]
    fn scenario_gates_are_read_and_checked() {
        let parse = |text: &str| {
            let scenario = Scenario::parse("demo", text).unwrap();
            from_scenario(&scenario, "demo.toml")
        };
        let gates = parse(
            "[gates]\nmax_regression = \"p99:15%\"\ngate = [\"p99<5ms\", \"torn==0\"]\nstrict = true",
        )
        .unwrap();
        assert_eq!(gates.relative, ["p99:15%".parse().unwrap()]);
        assert_eq!(gates.absolute.len(), 2);
        assert!(gates.strict && !gates.allow_torn);
        assert!(parse("consumers = 1").unwrap().relative.is_empty());
        let shorthand = parse("[gates]\np99 = \"1s\"\n\"acquire.p99\" = \"<2ms\"").unwrap();
        // Metric keys are taken in name order.
        assert_eq!(
            shorthand.absolute,
            [
                "acquire.p99<2ms".parse().unwrap(),
                "p99<=1s".parse().unwrap()
            ]
        );

        for (text, says) in [
            (
                "[gates]\np99_age = \"5ms\"",
                "gates.p99_age: unknown key; accepted: max_regression",
            ),
            (
                "[gates]\np99 = 5",
                "gates.p99: 5 is not accepted; accepted: a limit in quotes",
            ),
            (
                "[gates]\np99 = \"5\"",
                "gates.p99: 'p99<=5': p99 is a latency",
            ),
            (
                "[gates]\ngate = \"p99<<5ms\"",
                "gates.gate: 'p99<<5ms': unsupported comparison",
            ),
            (
                "[gates]\ngate = 5",
                "gates.gate: 5 is not accepted; accepted: a string",
            ),
            (
                "[gates]\nmax_regression = [\"p99:10\"]",
                "gates.max_regression: 'p99:10'",
            ),
            (
                "[gates]\nstrict = \"yes\"",
                "gates.strict: \"yes\" is not accepted; accepted: true, false",
            ),
        ] {
            let err = parse(text).unwrap_err().0;
            assert!(err.starts_with("demo.toml: "), "{err}");
            assert!(err.contains(says), "{text}: {err}");
            assert_eq!(err.lines().count(), 1);
        }
    }

    #[test]
    fn flags_replace_the_scenario_gates_of_their_kind() {
        let scenario = ScenarioGates {
            relative: vec!["p99:15%".parse().unwrap()],
            absolute: vec!["p99<5ms".parse().unwrap()],
            ..ScenarioGates::default()
        };
        let rules = |args: &[&str]| {
            use clap::Parser;
            #[derive(Parser)]
            struct Probe {
                #[command(flatten)]
                rules: GateRules,
            }
            Probe::parse_from(std::iter::once("probe").chain(args.iter().copied())).rules
        };
        let from_file = gate_set(&rules(&[]), &scenario, true);
        assert_eq!(from_file.relative, scenario.relative);
        assert_eq!(from_file.absolute, scenario.absolute);
        let replaced = gate_set(&rules(&["--gate", "p99<1ms"]), &scenario, true);
        assert_eq!(replaced.relative, scenario.relative);
        assert_eq!(replaced.absolute, ["p99<1ms".parse().unwrap()]);
        let defaults = gate_set(&rules(&[]), &ScenarioGates::default(), true);
        assert_eq!(defaults.relative, [DEFAULT_MAX_REGRESSION]);
        assert!(gate_set(&rules(&[]), &ScenarioGates::default(), false)
            .relative
            .is_empty());
    }
}
