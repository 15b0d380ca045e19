//! Reading fbench's input files (scenarios, reports, baselines): regular files only, and
//! at most [`MAX_INPUT_BYTES`], so `--scenario /dev/zero` or a multi-gigabyte file is one
//! line and exit 2, not memory growing until the machine gives out.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest input file read: far above any report fbench writes (a 1000-run sweep is
/// tens of MB), far below what would hurt the machine.
pub(crate) const MAX_INPUT_BYTES: u64 = 256 << 20;

/// Why an input file was not read; written to follow "cannot read PATH: ".
#[derive(Debug)]
pub(crate) enum InputError {
    NotFound,
    /// Exists but is not a regular file: what it is.
    NotRegular(&'static str),
    TooLarge(u64),
    NotText,
    Io(std::io::Error),
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::NotFound => f.write_str("no such file"),
            InputError::NotRegular(kind) => write!(f, "it is {kind}, not a regular file"),
            InputError::TooLarge(size) => write!(
                f,
                "it is larger than the {} MB fbench reads ({size} bytes)",
                MAX_INPUT_BYTES >> 20
            ),
            InputError::NotText => f.write_str("it is not UTF-8 text"),
            InputError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// What a file type is, as an error message says it.
pub(crate) fn kind_of(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "a regular file"
    }
}

/// The text of the regular file at `path` (symbolic links followed), refusing anything else
/// and anything over [`MAX_INPUT_BYTES`].
pub(crate) fn read_text(path: &Path) -> Result<String, InputError> {
    // O_NONBLOCK: opening a FIFO must not wait for a writer before it can be refused; it
    // changes nothing for a regular file.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => InputError::NotFound,
            _ => InputError::Io(e),
        })?;
    let metadata = file.metadata().map_err(InputError::Io)?;
    if !metadata.is_file() {
        return Err(InputError::NotRegular(kind_of(metadata.file_type())));
    }
    if metadata.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge(metadata.len()));
    }
    read_bounded(file)
}

/// Read at most [`MAX_INPUT_BYTES`] (a file may grow while it is read).
fn read_bounded(file: File) -> Result<String, InputError> {
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(InputError::Io)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|_| InputError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_and_others_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.toml");
        std::fs::write(&file, "consumers = 2\n").unwrap();
        assert_eq!(read_text(&file).unwrap(), "consumers = 2\n");
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(read_text(&link).unwrap(), "consumers = 2\n");

        let says = |path: &Path| read_text(path).unwrap_err().to_string();
        assert_eq!(
            says(Path::new("/dev/zero")),
            "it is a character device, not a regular file"
        );
        assert_eq!(says(dir.path()), "it is a directory, not a regular file");
        assert_eq!(says(&dir.path().join("none")), "no such file");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(says(&fifo), "it is a FIFO, not a regular file");
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        assert_eq!(says(&file), "it is not UTF-8 text");
    }

    #[test]
    fn files_over_the_limit_are_refused_without_reading_them() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.json");
        // Sparse: the size is there, the disk blocks are not.
        let file = File::create(&big).unwrap();
        file.set_len(MAX_INPUT_BYTES + 1).unwrap();
        let err = read_text(&big).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "it is larger than the 256 MB fbench reads ({} bytes)",
                MAX_INPUT_BYTES + 1
            )
        );
    }
}
