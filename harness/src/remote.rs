//! Consumers on another host, simulated on this one (`--remote netns`, `--link`).
//!
//! A run with `--remote netns` creates a network namespace of its own and a veth pair
//! between it and the run's namespace, with link-local IPv4 addresses (169.254.0.0/16, a /30
//! per run) and nothing else: no route to anywhere, no other address. The producer listens
//! on its end of the pair; each consumer process enters the namespace (`setns` between fork
//! and exec) and connects to that address, so every frame crosses the pair. `--link` shapes
//! both directions: `tc tbf` for a rate alone (`1gbit`), `tc netem` for a rate and a delay
//! (`10gbit,delay=200us`; a kernel without netem refuses a delay before the run starts).
//!
//! The namespace and the pair are removed when the [`Netns`] guard drops: the end of a run,
//! an error, Ctrl-C (the run unwinds, see `interrupt`). A run killed outright leaves them for
//! `fbench clean` ([`clean_stale`]). Everything here needs root (`ip netns add`), and is
//! refused with one line otherwise ([`check_root`]).
//!
//! It must never touch an address outside its own pair, nor any interface it did not create.

use std::fmt;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, RawFd};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Name prefix of every namespace fbench creates: `fbench-<pid>-<n>`.
pub const NETNS_PREFIX: &str = "fbench-";

/// Link shaping for `--link`: a rate, and optionally a one-way delay added on each side.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// Bits per second.
    pub rate_bit: u64,
    /// One-way delay added in each direction.
    pub delay: Option<Duration>,
}

impl Link {
    /// Bytes per second the link carries.
    pub fn bytes_per_s(&self) -> f64 {
        self.rate_bit as f64 / 8.0
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = self.rate_bit;
        if rate % 1_000_000_000 == 0 {
            write!(f, "{}gbit", rate / 1_000_000_000)?;
        } else if rate % 1_000_000 == 0 {
            write!(f, "{}mbit", rate / 1_000_000)?;
        } else if rate % 1_000 == 0 {
            write!(f, "{}kbit", rate / 1_000)?;
        } else {
            write!(f, "{rate}bit")?;
        }
        if let Some(delay) = self.delay {
            write!(f, ",delay={}us", delay.as_micros())?;
        }
        Ok(())
    }
}

/// `--link`: `<rate>[,delay=<duration>]`, rate in kbit, mbit or gbit (e.g. `1gbit`,
/// `10gbit,delay=200us`).
///
/// ```
/// use fbench_harness::remote::parse_link;
/// let link = parse_link("10gbit,delay=200us").unwrap();
/// assert_eq!(link.rate_bit, 10_000_000_000);
/// assert_eq!(link.delay, Some(std::time::Duration::from_micros(200)));
/// assert!(parse_link("fast").is_err());
/// ```
pub fn parse_link(text: &str) -> Result<Link, String> {
    let accepted = "a rate in kbit, mbit or gbit, then optionally ,delay=<duration> (e.g. 1gbit, 10gbit,delay=200us)";
    let mut parts = text.split(',');
    let rate_text = parts.next().unwrap_or("").trim();
    let split = rate_text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rate_text.len());
    let (number, unit) = rate_text.split_at(split);
    let scale = match unit {
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        _ => return Err(format!("'{text}' has no rate unit; accepted: {accepted}")),
    };
    let rate_bit = number
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|r| r.is_finite() && *r >= 1e3 && *r <= 1e12)
        .ok_or_else(|| {
            format!("'{text}': the rate must be 1kbit to 1000gbit; accepted: {accepted}")
        })? as u64;
    let mut delay = None;
    for part in parts {
        let value = part
            .trim()
            .strip_prefix("delay=")
            .ok_or_else(|| format!("'{text}': unknown part '{part}'; accepted: {accepted}"))?;
        let parsed = crate::config::parse_duration(value)
            .map_err(|e| format!("'{text}': delay: {e}; accepted: {accepted}"))?;
        if parsed > Duration::from_secs(10) {
            return Err(format!("'{text}': a delay above 10s; accepted: {accepted}"));
        }
        delay = Some(parsed);
    }
    Ok(Link { rate_bit, delay })
}

/// Where a run's consumers live (`--remote`, `--link`). The default: on this host, in the
/// run's own network namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Remote {
    /// Consumers in a network namespace of the run's own, across a veth pair.
    pub netns: bool,
    /// Shaping of the veth pair; `None`: the pair as fast as the kernel moves it.
    pub link: Option<Link>,
}

impl Remote {
    /// What the report records (`config.remote`); `None` for consumers on this host.
    ///
    /// ```
    /// use fbench_harness::remote::{parse_link, Remote};
    /// let remote = Remote { netns: true, link: Some(parse_link("1gbit").unwrap()) };
    /// assert_eq!(remote.describe().as_deref(), Some("netns, link 1gbit"));
    /// assert_eq!(Remote::default().describe(), None);
    /// ```
    pub fn describe(&self) -> Option<String> {
        self.netns.then(|| match self.link {
            Some(link) => format!("netns, link {link}"),
            None => "netns, link unshaped".to_string(),
        })
    }

    /// The combination is one that runs: `--link` needs `--remote netns`, which needs root,
    /// a build with the `net` feature, and strategies whose frames cross a network
    /// (`strategies`: the run's names). The error is one line, for the flag it names.
    pub fn check(&self, strategies: &[&str]) -> Result<(), (&'static str, String)> {
        if !self.netns {
            return match self.link {
                Some(_) => Err((
                    "--link",
                    "shapes the path to consumers on another host: add --remote netns".into(),
                )),
                None => Ok(()),
            };
        }
        if !cfg!(feature = "net") {
            return Err((
                "--remote",
                "netns runs the zenoh-tcp strategy, which is not in this build; rebuild with `--features net`".into(),
            ));
        }
        for name in strategies {
            let networked = fbench_strategies::StrategyKind::from_name(name)
                .is_some_and(|kind| kind.is_networked());
            if !networked {
                return Err((
                    "--remote",
                    format!("'{name}' keeps its consumers on this host; netns runs zenoh-tcp only (its frames cross the veth pair)"),
                ));
            }
        }
        check_root().map_err(|e| ("--remote", e))?;
        if self.link.is_some_and(|link| link.delay.is_some()) && !netem_available() {
            return Err(("--link", NO_NETEM.into()));
        }
        Ok(())
    }
}

/// What a delay on a kernel without netem is refused with.
const NO_NETEM: &str = "delay=… needs the kernel's netem qdisc (sch_netem), which this kernel lacks; a rate alone (e.g. --link 1gbit) works through tbf";

/// Whether the kernel has the netem qdisc, asked before anything is created: `tc` adds one
/// to the loopback of a network namespace that exists only for the probe (`unshare -n`, gone
/// with the probe's process), so nothing of the machine's is touched. `true` when the probe
/// cannot run at all (no `unshare` or `tc`): the run then says what `tc` says.
fn netem_available() -> bool {
    let probe = Command::new("unshare")
        .args([
            "-n", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1us",
        ])
        .output();
    match probe {
        Ok(output) => {
            output.status.success()
                || !String::from_utf8_lossy(&output.stderr).contains("qdisc kind is unknown")
        }
        Err(_) => true,
    }
}

/// `--remote`: only `netns` exists.
pub fn parse_remote(text: &str) -> Result<String, String> {
    match text {
        "netns" => Ok(text.to_string()),
        _ => Err(format!(
            "'{text}' is not a remote placement; accepted: netns (consumers in a network namespace the run creates)"
        )),
    }
}

/// `--remote netns` needs root: refused with one line otherwise.
pub fn check_root() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err("netns needs root (it creates a network namespace and a veth pair); run as root, or leave --remote out".into());
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error("--remote netns: {0}")]
pub struct NetnsError(String);

fn ip(args: &[&str]) -> Result<(), NetnsError> {
    run("ip", args)
}

fn run(program: &str, args: &[&str]) -> Result<(), NetnsError> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| NetnsError(format!("cannot run {program}: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(NetnsError(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// A run's namespace and veth pair; removed on drop.
pub struct Netns {
    name: String,
    host_if: String,
    /// The namespace, open: consumer processes `setns` into it.
    handle: File,
    host_address: Ipv4Addr,
    consumer_address: Ipv4Addr,
}

impl Netns {
    /// Create namespace `fbench-<pid>-<n>` and its veth pair, shaped by `link`.
    pub fn create(link: Option<Link>) -> Result<Netns, NetnsError> {
        check_root().map_err(NetnsError)?;
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // Relaxed: a counter for unique names, no data depends on it.
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let name = format!("{NETNS_PREFIX}{pid}-{n}");
        // Interface names are at most 15 bytes: `fbh`/`fbc` + pid and counter in hex.
        let host_if = format!("fbh{pid:x}{:x}", n % 16);
        let consumer_if = format!("fbc{pid:x}{:x}", n % 16);
        // A /30 of 169.254.0.0/16 per run, chosen from the pid and counter; never
        // 169.254.0.x, 169.254.255.x (reserved) or 169.254.169.x (cloud metadata lives at
        // 169.254.169.254).
        let mut third = 1 + (pid % 253) as u8;
        if third == 169 {
            third = 170;
        }
        let fourth = ((n % 63) * 4) as u8;
        let host_address = Ipv4Addr::new(169, 254, third, fourth + 1);
        let consumer_address = Ipv4Addr::new(169, 254, third, fourth + 2);
        ip(&["netns", "add", &name])?;
        // From here on, dropping the guard removes what exists.
        let handle = File::open(format!("/run/netns/{name}"))
            .map_err(|e| NetnsError(format!("cannot open /run/netns/{name}: {e}")));
        let handle = match handle {
            Ok(handle) => handle,
            Err(e) => {
                let _ = ip(&["netns", "del", &name]);
                return Err(e);
            }
        };
        let netns = Netns {
            name,
            host_if,
            handle,
            host_address,
            consumer_address,
        };
        netns.configure(&consumer_if, link)?;
        Ok(netns)
    }

    fn configure(&self, consumer_if: &str, link: Option<Link>) -> Result<(), NetnsError> {
        let ns = self.name.as_str();
        let host = format!("{}/30", self.host_address);
        let consumer = format!("{}/30", self.consumer_address);
        ip(&[
            "link",
            "add",
            &self.host_if,
            "type",
            "veth",
            "peer",
            "name",
            consumer_if,
            "netns",
            ns,
        ])?;
        ip(&["addr", "add", &host, "dev", &self.host_if])?;
        ip(&["link", "set", &self.host_if, "up"])?;
        ip(&["-n", ns, "addr", "add", &consumer, "dev", consumer_if])?;
        ip(&["-n", ns, "link", "set", consumer_if, "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        if let Some(link) = link {
            self.shape(&self.host_if, None, link)?;
            self.shape(consumer_if, Some(ns), link)?;
        }
        Ok(())
    }

    /// Shape `interface`'s egress (in namespace `ns`, or the run's own): `tbf` for a rate
    /// alone, `netem` when a delay is asked for too (netem does both).
    fn shape(&self, interface: &str, ns: Option<&str>, link: Link) -> Result<(), NetnsError> {
        let rate = format!("{}bit", link.rate_bit);
        // tbf's bucket holds at least one GSO packet (64 KiB; veth segments TCP that large)
        // and a millisecond of the rate; its queue, 50 ms of the rate.
        let burst = ((link.rate_bit / 8 / 1000).max(128 * 1024)).to_string();
        let delay = link.delay.map(|d| format!("{}us", d.as_micros()));
        let mut tc = vec!["qdisc", "add", "dev", interface, "root"];
        match &delay {
            // netem's queue: deep enough for a frame in flight (its default of 1000
            // packets drops bursts of a large frame).
            Some(delay) => tc.extend(["netem", "delay", delay, "rate", &rate, "limit", "100000"]),
            None => tc.extend(["tbf", "rate", &rate, "burst", &burst, "latency", "50ms"]),
        }
        let result = match ns {
            Some(ns) => {
                let mut in_ns = vec!["netns", "exec", ns, "tc"];
                in_ns.extend(tc.iter().copied());
                ip(&in_ns)
            }
            None => run("tc", &tc),
        };
        result.map_err(|e| match delay {
            Some(_) if e.0.contains("qdisc kind is unknown") => {
                NetnsError(format!("--link {NO_NETEM}"))
            }
            _ => e,
        })
    }

    /// The producer's address, on the run's side of the pair.
    pub fn host_address(&self) -> IpAddr {
        IpAddr::V4(self.host_address)
    }

    /// The namespace's file descriptor, for `setns(fd, CLONE_NEWNET)` in a child.
    pub fn fd(&self) -> RawFd {
        self.handle.as_raw_fd()
    }

    /// The namespace's name (`ip netns list`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the pair, and with it the pair; the host
        // end is deleted too in case a process still holds the namespace open.
        let _ = ip(&["netns", "del", &self.name]);
        let _ = ip(&["link", "del", &self.host_if]);
    }
}

/// `fbench clean`: remove namespaces `fbench-<pid>-<n>` whose process is gone (a run killed
/// outright). Returns how many were removed.
pub fn clean_stale() -> usize {
    remove_namespaces(|pid| !fbench_strategies::leftovers::is_alive(pid))
}

/// Remove the namespaces of the run process `pid`, which has died (a run child killed
/// outright: its own teardown never ran). Returns how many were removed.
pub fn remove_of(pid: u32) -> usize {
    remove_namespaces(|owner| owner == pid)
}

/// Delete the namespaces `fbench-<pid>-<n>` whose `pid` `doomed` picks.
fn remove_namespaces(doomed: impl Fn(u32) -> bool) -> usize {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = fbench_strategies::leftovers::run_producer(&name) else {
            continue;
        };
        if !doomed(pid) {
            continue;
        }
        if ip(&["netns", "del", &name]).is_ok() {
            removed += 1;
        }
        // The host end of the pair goes with the namespace's end.
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_parse_and_print_back() {
        for text in [
            "1gbit",
            "10gbit,delay=200us",
            "100mbit",
            "500kbit,delay=1000us",
        ] {
            assert_eq!(parse_link(text).unwrap().to_string(), text);
        }
        assert_eq!(parse_link("1.5gbit").unwrap().rate_bit, 1_500_000_000);
    }

    #[test]
    fn bad_links_name_what_is_accepted() {
        for text in [
            "",
            "fast",
            "1gb",
            "0gbit",
            "1gbit,jitter=1ms",
            "1gbit,delay=soon",
            "-1gbit",
        ] {
            let error = parse_link(text).unwrap_err();
            assert!(error.contains("accepted"), "{text}: {error}");
        }
    }

    #[test]
    fn only_netns_is_a_remote() {
        assert!(parse_remote("netns").is_ok());
        assert!(parse_remote("ssh").unwrap_err().contains("accepted: netns"));
    }
}
