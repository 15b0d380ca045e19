//! The report reader (`fbench report`, `fbench soak --from`) never panics, whatever file it
//! is given: arbitrary bytes, and a real report with bytes flipped, inserted or cut. A report
//! it accepts renders to every format (or fails with an error), and soak analysis of its runs
//! never panics either. `PROPTEST_CASES` sets the number of cases (see README, "Fuzzing").

use std::sync::OnceLock;

use fbench_harness::frame::{FrameSpec, PixelFormat, Resolution};
use fbench_harness::machine::MachineInfo;
use fbench_harness::RunConfig;
use fbench_reports::{BuildInfo, ExportFormat, Report};
use fbench_strategies::StrategyKind;
use proptest::prelude::*;

/// A real report with one short run and one fault, made once.
fn real_report() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut config = RunConfig::default_config();
        config.frame = FrameSpec {
            resolution: Resolution::new(64, 48),
            format: PixelFormat::Rgb24,
        };
        config.consumers = 2;
        config.duration = std::time::Duration::from_millis(300);
        config.warmup = std::time::Duration::from_millis(50);
        config.faults = vec!["stall:0@100ms:100ms".parse().unwrap()];
        let run = fbench_harness::run(StrategyKind::Pool, &config, &mut |_| {}).unwrap();
        let report = Report::new(
            MachineInfo::detect(),
            BuildInfo {
                version: "test".into(),
                git_rev: "test".into(),
            },
            vec![run],
        );
        String::from_utf8(ExportFormat::Json.exporter().render(&report).unwrap()).unwrap()
    })
}

/// Read, then (if accepted) render every format and analyse every run: none may panic.
fn read_everything(text: &str) {
    if let Ok(report) = Report::from_json(text) {
        for format in [
            ExportFormat::Json,
            ExportFormat::Table,
            ExportFormat::Html,
            ExportFormat::Markdown,
            ExportFormat::Csv,
        ] {
            let _ = format.exporter().render(&report);
        }
        for run in &report.runs {
            let _ = fbench_harness::soak::summarise(run);
        }
        let _ = fbench_reports::fault_lines(&report.runs);
    }
}

#[test]
fn a_real_report_reads_back_equal() {
    let report = Report::from_json(real_report()).unwrap();
    let again = ExportFormat::Json.exporter().render(&report).unwrap();
    assert_eq!(
        Report::from_json(std::str::from_utf8(&again).unwrap()).unwrap(),
        report
    );
    assert_eq!(report.runs[0].faults.len(), 1);
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        read_everything(&text);
    }

    #[test]
    fn a_damaged_report_never_panics(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)
    ) {
        let mut bytes = real_report().as_bytes().to_vec();
        for (at, byte, kind) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => bytes.truncate(i),
            }
        }
        read_everything(&String::from_utf8_lossy(&bytes));
    }

    /// Numbers swapped for extreme ones: still no panic (e.g. in percentiles or charts).
    #[test]
    fn extreme_numbers_never_panic(
        picks in prop::collection::vec((any::<prop::sample::Index>(), prop_oneof![
            Just("0".to_string()), Just("-1".to_string()), Just("1e308".to_string()),
            Just("18446744073709551615".to_string()), Just("null".to_string()),
            Just("\"\"".to_string()), any::<i64>().prop_map(|n| n.to_string()),
        ]), 1..6)
    ) {
        let text = real_report();
        let numbers: Vec<(usize, usize)> = {
            let bytes = text.as_bytes();
            let mut spans = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b':' && i + 2 < bytes.len() && bytes[i + 2].is_ascii_digit() {
                    let start = i + 2;
                    let mut end = start;
                    while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
                        end += 1;
                    }
                    spans.push((start, end));
                    i = end;
                } else {
                    i += 1;
                }
            }
            spans
        };
        prop_assume!(!numbers.is_empty());
        let mut chosen: Vec<(usize, usize, String)> = picks
            .into_iter()
            .map(|(at, value)| {
                let (s, e) = numbers[at.index(numbers.len())];
                (s, e, value)
            })
            .collect();
        chosen.sort_by_key(|c| std::cmp::Reverse(c.0));
        chosen.dedup_by_key(|c| c.0);
        let mut edited = text.to_string();
        for (start, end, value) in chosen {
            edited.replace_range(start..end, &value);
        }
        read_everything(&edited);
    }
}
