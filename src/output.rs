//! Writing fbench's output files: where a report goes, checked before the run, and how it
//! is written so that a reader never sees half of it.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use fbench_reports::{ExportFormat, Exporter, Report, Trials};

use crate::UsageError;

/// Extra exports beside the JSON and HTML reports (`--export`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extra {
    /// Markdown summary (e.g. for a CI job summary).
    Md,
    /// One CSV row per run.
    Csv,
    /// HdrHistogram percentile distribution of the age, one file per run.
    Hgrm,
    /// HdrHistogram interval log (age, acquire, publish per interval), one file per run.
    Hlog,
}

pub(crate) fn parse_extra(text: &str) -> Result<Extra, String> {
    match text {
        "md" => Ok(Extra::Md),
        "csv" => Ok(Extra::Csv),
        "hgrm" => Ok(Extra::Hgrm),
        "hlog" => Ok(Extra::Hlog),
        _ => Err(format!(
            "unknown export '{text}'; accepted: md, csv, hgrm, hlog"
        )),
    }
}

/// A run report's outputs: the JSON at `json_path`, the HTML beside it, the Markdown and CSV
/// asked for, then the per-run `.hgrm` and `.hlog` files; prints each path. Returns the HTML
/// path. `trials` says how the HTML and Markdown show repeated trials.
pub(crate) fn write_reports(
    report: &Report,
    json_path: &Path,
    extras: &[Extra],
    trials: Trials,
) -> anyhow::Result<PathBuf> {
    let mut formats = vec![ExportFormat::Json, ExportFormat::Html];
    for extra in extras {
        match extra {
            Extra::Md => formats.push(ExportFormat::Markdown),
            Extra::Csv => formats.push(ExportFormat::Csv),
            Extra::Hgrm | Extra::Hlog => {}
        }
    }
    let written = write_exports(report, json_path, &formats, |format| {
        format.exporter_with(trials)
    })?;
    for (extra, extension) in [(Extra::Hgrm, "hgrm"), (Extra::Hlog, "hlog")] {
        if !extras.contains(&extra) {
            continue;
        }
        let files: Vec<(String, String)> = if extra == Extra::Hgrm {
            let files = fbench_reports::hgrm::age_distributions(report)?;
            files.into_iter().map(|f| (f.name, f.text)).collect()
        } else {
            let files = fbench_reports::hlog::interval_logs(report)?;
            files.into_iter().map(|f| (f.name, f.text)).collect()
        };
        for path in write_per_run(json_path, extension, files)? {
            println!("{extension}: {}", path.display());
        }
    }
    Ok(written[1].clone())
}

/// `<stem>-<name>.<extension>` beside `base` for each (name, text) of `files`: one file per
/// run (`<strategy>-c<consumers>`).
fn write_per_run(
    base: &Path,
    extension: &str,
    files: impl IntoIterator<Item = (String, String)>,
) -> anyhow::Result<Vec<PathBuf>> {
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".to_string());
    let mut written = Vec::new();
    for (name, text) in files {
        let path = base.with_file_name(format!("{stem}-{name}.{extension}"));
        write_atomically(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Write `document` in each of `formats` through `exporter` (run and capacity reports alike):
/// JSON at `json_path`, every other format beside it (`report.html`, `report.md`, …), each
/// file whole or not at all; prints `<format> report: PATH` for each. Returns the paths
/// written, in order.
pub(crate) fn write_exports<D: ?Sized>(
    document: &D,
    json_path: &Path,
    formats: &[ExportFormat],
    exporter: impl Fn(ExportFormat) -> Box<dyn Exporter<D>>,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut written: Vec<PathBuf> = Vec::with_capacity(formats.len());
    for &format in formats {
        let path = match format {
            ExportFormat::Json => json_path.to_path_buf(),
            _ => beside(json_path, format.extension()),
        };
        if written.contains(&path) {
            continue;
        }
        let bytes = exporter(format).render(document)?;
        write_atomically(&path, &bytes)
            .with_context(|| format!("writing the {} report {}", format.name(), path.display()))?;
        println!("{} report: {}", format.name(), path.display());
        written.push(path);
    }
    Ok(written)
}

/// `report.json` -> `report.<extension>`; never the input itself.
pub(crate) fn beside(path: &Path, extension: &str) -> PathBuf {
    let other = path.with_extension(extension);
    if other == path {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{extension}"));
        PathBuf::from(name)
    } else {
        other
    }
}

/// Where the JSON report goes, checked before the run so that a bad path fails in a second,
/// not after minutes of measuring. Nothing is left behind by the check.
pub(crate) fn output_path(
    json: Option<&Path>,
    out: &Path,
    prefix: &str,
) -> anyhow::Result<PathBuf> {
    let (path, flag) = match json {
        Some(path) => (path.to_path_buf(), "--json"),
        None => {
            std::fs::create_dir_all(out).map_err(|e| {
                UsageError(format!(
                    "--out: cannot create directory {}: {e}",
                    out.display()
                ))
            })?;
            (out.join(format!("{prefix}-{}.json", timestamp())), "--out")
        }
    };
    writable_file(path, flag)
}

/// `path` if a report can be written there, checked without leaving anything behind; else
/// a usage error naming `flag`. A report goes to a regular file: a new path, an existing
/// regular file (replaced whole), or a symbolic link to either (the target is written, the
/// link stays). A device, FIFO or socket is refused, never replaced.
pub(crate) fn writable_file(path: PathBuf, flag: &str) -> anyhow::Result<PathBuf> {
    let target = resolve(&path).map_err(|e| {
        UsageError(format!(
            "{flag}: cannot follow the link {}: {e}",
            path.display()
        ))
    })?;
    match std::fs::metadata(&target) {
        Ok(metadata) if metadata.is_dir() => {
            return Err(UsageError(format!(
                "{flag}: {} is a directory; give a file path such as report.json",
                path.display()
            ))
            .into())
        }
        Ok(metadata) if !metadata.is_file() => {
            return Err(UsageError(format!(
                "{flag}: {} is {}; a report goes to a regular file (a new path or an existing file to replace)",
                path.display(),
                crate::input::kind_of(metadata.file_type())
            ))
            .into())
        }
        _ => {}
    }
    let dir = parent_dir(&target);
    if !dir.is_dir() {
        return Err(UsageError(format!(
            "{flag}: directory {} does not exist",
            dir.display()
        ))
        .into());
    }
    tempfile::Builder::new()
        .prefix(".fbench-probe-")
        .tempfile_in(dir)
        .map_err(|e| UsageError(format!("{flag}: cannot write in {}: {e}", dir.display())))?;
    Ok(path)
}

pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The path a write to `path` lands on: symbolic links followed to their final target
/// (which need not exist yet), so that the target is replaced and the link kept.
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    // As many hops as the kernel follows before ELOOP.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)?;
                current = parent_dir(&current).join(link);
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::from_raw_os_error(libc::ELOOP))
}

/// Write to a temporary file beside `path`'s target, then rename: a reader never sees half a
/// report. A symbolic link's target is written; a path that is not a regular file (a
/// device, a FIFO, a socket) is refused rather than replaced. The file gets the mode of the
/// one it replaces, or 0666 less the umask for a new one, as a plain `create` would.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let target = resolve(path)?;
    let mode = match std::fs::metadata(&target) {
        Ok(metadata) if !metadata.is_file() => {
            return Err(std::io::Error::other(format!(
                "{} is {}, not a regular file; not replaced",
                path.display(),
                crate::input::kind_of(metadata.file_type())
            )))
        }
        Ok(metadata) => metadata.permissions().mode() & 0o7777,
        Err(_) => 0o666,
    };
    let mut file = tempfile::Builder::new()
        .prefix(".fbench-")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(parent_dir(&target))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(&target).map_err(|e| e.error)?;
    Ok(())
}

/// UTC `YYYYMMDD-HHMMSS` for file names.
fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Best effort: a missing browser is a note, not a failure (the report is written).
pub(crate) fn open_in_browser(path: &Path) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let result = std::process::Command::new(opener)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = result {
        eprintln!(
            "note: could not start {opener} to open {}: {e}; open it in a browser yourself",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    #[test]
    fn a_symlink_is_followed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.json");
        std::fs::write(&target, "old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        writable_file(link.clone(), "--json").unwrap();
        write_atomically(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "the replaced file keeps its mode");
        // A dangling link: its target is created.
        let dangling = dir.path().join("dangling.json");
        std::os::unix::fs::symlink("made.json", &dangling).unwrap();
        write_atomically(&dangling, b"made").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("made.json")).unwrap(),
            "made"
        );
    }

    #[test]
    fn special_files_are_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        for path in [fifo.clone(), PathBuf::from("/dev/null")] {
            let err = writable_file(path.clone(), "--json").unwrap_err();
            let usage = err.downcast_ref::<UsageError>().unwrap().0.clone();
            assert!(usage.starts_with("--json: "), "{usage}");
            assert!(usage.contains("a report goes to a regular file"), "{usage}");
            let err = write_atomically(&path, b"x").unwrap_err();
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
        let link = dir.path().join("to-null");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        assert!(writable_file(link, "--summary-md").is_err());
    }
}
