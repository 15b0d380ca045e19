//! What the injected faults did (`runs[].faults`): one row per run and fault, in the HTML
//! report and as lines under the terminal table. Runs without faults render nothing.

use std::fmt::Write as _;

use fbench_harness::faults::FaultRecord;
use fbench_harness::RunResult;

use crate::charts::escape;
use crate::format::format_ns;

/// One sentence of what happened while `fault` lasted, e.g. for a stall under `rwlock`:
/// "writer blocked up to 968 ms, 28 source overruns; others saw 100% of 2 frames".
pub fn describe(fault: &FaultRecord) -> String {
    let p = &fault.producer;
    let mut parts = vec![format!(
        "{} published, publish max {}",
        p.published,
        format_ns(p.publish_max_ns)
    )];
    if p.producer_drops > 0 {
        parts.push(format!("{} producer drops", p.producer_drops));
    }
    if p.source_overruns > 0 {
        parts.push(format!("{} source overruns", p.source_overruns));
    }
    if p.pool_grows > 0 {
        parts.push(format!("pool grew by {}", p.pool_grows));
    }
    if let Some(status) = &fault.consumer_status {
        parts.push(format!("consumer {}", status));
    }
    parts.push(format!(
        "{} other consumer(s): drop rate {:.1}%, age max {}",
        fault.others,
        fault.others_drop_rate * 100.0,
        format_ns(fault.others_age_max_ns)
    ));
    parts.join("; ")
}

/// Lines for the terminal, one per run and fault.
pub fn fault_lines(runs: &[RunResult]) -> Vec<String> {
    runs.iter()
        .flat_map(|run| {
            let reclaimed = run.reclaimed_slots;
            run.faults.iter().map(move |fault| {
                let mut line = format!("{} {}: {}", run.strategy, fault.fault, describe(fault));
                if fault.kind == "kill" && reclaimed > 0 {
                    let _ = write!(line, "; {reclaimed} slot(s) reclaimed");
                }
                line
            })
        })
        .collect()
}

/// The HTML section (empty when no run had faults).
pub(crate) fn section(page: &mut String, runs: &[&RunResult]) {
    if runs.iter().all(|r| r.faults.is_empty()) {
        return;
    }
    page.push_str(
        "<h2 id=\"faults\">Faults</h2>\n<p>What each injected fault did while it lasted: the \
         producer's frames, its longest publish (a writer blocked by a reader shows here), its \
         drops and overruns, pool growth, and what the other consumers saw (times from the \
         start of measuring).</p>\n<table>\n<tr><th class=\"name\">run</th><th>fault</th>\
         <th>window</th><th>published</th><th>publish max</th><th>producer drops</th>\
         <th>source overruns</th><th>pool grows</th><th>consumer</th><th>others' drop rate</th>\
         <th>others' age max</th></tr>\n",
    );
    for run in runs {
        for fault in &run.faults {
            let p = &fault.producer;
            let _ = writeln!(
                page,
                "<tr><td class=\"name\">{} x{}</td><td>{}</td><td>{:.2} s</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td>\
                 <td>{}</td></tr>",
                escape(&run.strategy),
                run.consumers,
                escape(&fault.fault),
                fault.window_s,
                p.published,
                format_ns(p.publish_max_ns),
                p.producer_drops,
                p.source_overruns,
                p.pool_grows,
                escape(fault.consumer_status.as_deref().unwrap_or("-")),
                fault.others_drop_rate * 100.0,
                format_ns(fault.others_age_max_ns),
            );
        }
    }
    page.push_str("</table>\n");
}

/// The HTML section on what queues cost each consumer (empty when no run queued frames).
pub(crate) fn queues_section(page: &mut String, runs: &[&RunResult]) {
    if !runs
        .iter()
        .any(|r| r.queues.as_ref().is_some_and(|q| !q.is_empty()))
    {
        return;
    }
    page.push_str(
        "<h2 id=\"queues\">Queues</h2>\n<p>FIFO strategies, per consumer: frames its queue \
         discarded by policy (broadcast: the receiver's lag), the deepest its queue got, and \
         the time the producer waited for room in it (drop policy <code>block</code>). Counted \
         from the strategy's construction, warm-up included.</p>\n<table>\n<tr><th class=\"name\">run</th>\
         <th>depth</th><th>policy</th><th>consumer</th><th>dropped by policy</th>\
         <th>deepest</th><th>producer blocked</th></tr>\n",
    );
    for run in runs {
        for (id, queue) in run.queues.iter().flatten().enumerate() {
            let _ = writeln!(
                page,
                "<tr><td class=\"name\">{} x{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td></tr>",
                escape(&run.strategy),
                run.consumers,
                run.config.queue_depth,
                escape(&run.config.drop_policy),
                id,
                queue.dropped_by_policy,
                queue.max_depth,
                format_ns(queue.producer_blocked_ns),
            );
        }
    }
    page.push_str("</table>\n");
}
