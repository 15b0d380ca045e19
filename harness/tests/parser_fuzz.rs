//! The scenario parser and the `--fault` parser never panic, whatever they are fed:
//! arbitrary text, and TOML / fault specs assembled from valid and invalid pieces. What
//! they accept is valid: a parsed scenario's runs pass or fail `validate` with a flag named,
//! and a parsed fault prints back to text that parses to the same fault.
//! `PROPTEST_CASES` sets the number of cases (see README, "Fuzzing").

use fbench_harness::faults::Fault;
use fbench_harness::scenario::Scenario;
use proptest::prelude::*;

fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("1e400".to_string()),
        Just("nan".to_string()),
        Just("[]".to_string()),
        Just("[1, 4]".to_string()),
        Just("[1, \"x\"]".to_string()),
        Just("true".to_string()),
        Just("{ a = 1 }".to_string()),
        prop::sample::select(vec![
            "\"all\"",
            "\"mutex\"",
            "\"480p\"",
            "\"4k\"",
            "\"0x0\"",
            "\"99999x99999\"",
            "\"rgb24\"",
            "\"nv12\"",
            "\"1s\"",
            "\"0s\"",
            "\"500ms\"",
            "\"inspect\"",
            "\"sleep:1ms\"",
            "\"busy:\"",
            "\"2:sleep:50ms\"",
            "\"block\"",
            "\"poll:\"",
            "\"stamps\"",
            "\"grow\"",
            "\"drop\"",
            "\"\"",
            "\"synthetic\"",
            "\"y4m:/nope\"",
        ])
        .prop_map(str::to_string),
        "\"[ -~]{0,12}\"".prop_map(|s| s.replace('\\', "/")),
    ]
}

fn toml_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
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
            "gates",
        ])
        .prop_map(str::to_string),
        "[a-z_]{1,12}",
    ]
}

fn fault_text() -> impl Strategy<Value = String> {
    let time = prop_oneof![
        Just("1s".to_string()),
        Just("0s".to_string()),
        Just("500ms".to_string()),
        Just("".to_string()),
        Just("-1s".to_string()),
        Just("99999999999999999999s".to_string()),
        "[0-9]{1,4}(ms|s|m|us|ns|h|x)?",
    ];
    let part = prop_oneof![time, "[0-9]{1,3}", Just("".to_string()), "[ -~]{0,6}"];
    let well_formed = (
        0usize..40,
        0u64..100_000,
        0u64..100_000,
        0u32..3,
        1u32..1000,
    )
        .prop_map(|(consumer, at, length, kind, fps)| match kind {
            0 => format!("stall:{consumer}@{at}us:{length}ms"),
            1 => format!("kill:{consumer}@{at}ms"),
            _ => format!("burst:@{at}ms:{length}us:{fps}"),
        });
    let assembled = (
        prop::sample::select(vec!["stall", "kill", "burst", "", "freeze"]),
        prop::collection::vec(part, 0..5),
        prop::sample::select(vec![":", "@", "::", ":@", "@:"]),
    )
        .prop_map(|(kind, parts, glue)| format!("{kind}{glue}{}", parts.join(":")));
    prop_oneof![well_formed, assembled]
}

proptest! {
    #[test]
    fn any_text_is_a_scenario_or_an_error(text in "(?s).{0,300}") {
        let _ = Scenario::parse("fuzz", &text);
    }

    #[test]
    fn assembled_scenarios_parse_or_name_the_key(
        pairs in prop::collection::vec((toml_key(), toml_value()), 0..8)
    ) {
        let text: String = pairs.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        match Scenario::parse("fuzz", &text) {
            Ok(scenario) => {
                // Whatever was accepted became flags, which the one parser checks.
                for arg in &scenario.args {
                    prop_assert!(arg.argv.first().is_some_and(|f| f.starts_with("--")));
                }
            }
            Err(e) => prop_assert!(!e.key.is_empty() && !e.message.is_empty()),
        }
    }

    #[test]
    fn faults_parse_print_back_or_say_what_is_accepted(text in fault_text()) {
        match text.parse::<Fault>() {
            Ok(fault) => {
                let again: Fault = fault.to_string().parse().unwrap();
                prop_assert_eq!(again, fault);
            }
            Err(message) => prop_assert!(message.contains("accepted: stall:"), "{}", message),
        }
    }

    #[test]
    fn any_text_is_a_fault_or_an_error(text in "(?s).{0,60}") {
        let _ = text.parse::<Fault>();
    }
}
