//! Writing fbench's output files: where a report goes, checked before the run, and how it
//! is written so that a reader never sees half of it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::UsageError;

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

/// `path` if a file can be written there, checked without leaving anything behind; else a
/// usage error naming `flag`.
pub(crate) fn writable_file(path: PathBuf, flag: &str) -> anyhow::Result<PathBuf> {
    if path.is_dir() {
        return Err(UsageError(format!(
            "{flag}: {} is a directory; give a file path such as report.json",
            path.display()
        ))
        .into());
    }
    let dir = parent_dir(&path);
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

/// Write to a temporary file beside `path`, then rename: a reader never sees half a report.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = tempfile::Builder::new()
        .prefix(".fbench-")
        .tempfile_in(parent_dir(path))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
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
