//! Standard output and error that a closed reader cannot cut short.
//!
//! `fbench run … --json x.json --save-baseline main | head -1`: `head` exits after one
//! line, and the next print would kill fbench with SIGPIPE (or, with SIGPIPE ignored, make
//! Rust's `println!` panic) before the reports and the baseline are written. So when
//! stdout or stderr is a pipe or a socket, fbench writes it into a pipe of its own, and a
//! thread copies that to the real one; once the reader has gone, the thread discards the
//! rest instead of failing, and fbench finishes its files and exits with the command's own
//! code. A terminal or a file cannot lose its reader, so they are left alone.
//!
//! This module must never lose output while the reader is there: at the end of `main_with`
//! (the guard's drop) or at `std::process::exit` (an `atexit` handler), whichever comes
//! first, it flushes, puts the real descriptors back and waits for the copiers to drain.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

/// How long the end of the process waits for the copier to pass on what is left. Only a
/// child process still holding the pipe (none should be by then) makes it wait that long.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// One redirected descriptor.
struct Redirect {
    fd: RawFd,
    /// The real stdout or stderr, duplicated.
    real: RawFd,
    drained: mpsc::Receiver<()>,
}

/// The descriptors redirected now; emptied by [`restore`].
static REDIRECTS: Mutex<Vec<Redirect>> = Mutex::new(Vec::new());

/// Restores the real stdout and stderr when dropped.
pub(crate) struct Guard(());

/// Redirect stdout and stderr where they are pipes or sockets; `None` when neither is.
pub(crate) fn guard() -> Option<Guard> {
    let redirects: Vec<Redirect> = [libc::STDOUT_FILENO, libc::STDERR_FILENO]
        .into_iter()
        .filter(|&fd| can_lose_its_reader(fd))
        .filter_map(redirect)
        .collect();
    if redirects.is_empty() {
        return None;
    }
    // SAFETY: changing a signal's disposition to SIG_IGN is always valid. A write to a pipe
    // whose reader has gone then fails with EPIPE, which the copier handles, instead of
    // killing the process before its files are written.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    if let Ok(mut all) = REDIRECTS.lock() {
        all.extend(redirects);
    }
    // SAFETY: registering a function with C linkage that takes nothing and never unwinds
    // (`restore` does not panic). It runs at `exit`, which `std::process::exit` calls
    // after flushing Rust's stdout.
    unsafe {
        libc::atexit(restore_at_exit);
    }
    Some(Guard(()))
}

extern "C" fn restore_at_exit() {
    restore();
}

/// Put the real stdout and stderr back and let the copiers pass on what is left; once.
fn restore() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let redirects = match REDIRECTS.lock() {
        Ok(mut all) => std::mem::take(&mut *all),
        Err(_) => return,
    };
    for redirect in &redirects {
        // SAFETY: `real` is still open (the copier owns it until it ends, and it ends only
        // after this dup2 closes the last write end of its pipe). dup2 makes fd 1 or 2 the
        // real one again, which closes our pipe's write end.
        unsafe { libc::dup2(redirect.real, redirect.fd) };
    }
    for redirect in &redirects {
        let _ = redirect.drained.recv_timeout(DRAIN_TIMEOUT);
    }
}

fn can_lose_its_reader(fd: RawFd) -> bool {
    // SAFETY: `stat` is plain old data; fstat only fills it in, and fails harmlessly on a
    // closed descriptor.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `stat` is a valid, writable stat buffer.
    if unsafe { libc::fstat(fd, &mut stat) } != 0 {
        return false;
    }
    let kind = stat.st_mode & libc::S_IFMT;
    kind == libc::S_IFIFO || kind == libc::S_IFSOCK
}

fn redirect(fd: RawFd) -> Option<Redirect> {
    let mut pipe = [0; 2];
    // SAFETY: `pipe` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return None;
    }
    // SAFETY: duplicating an open descriptor; the copy is close-on-exec, so children see
    // only fd 1 and 2.
    let real = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    // SAFETY: `pipe[1]` is our open write end; dup2 makes `fd` refer to it (without
    // close-on-exec, so child processes inherit it as their stdout or stderr, as they did
    // the real one), then our extra descriptor is closed.
    if real < 0 || unsafe { libc::dup2(pipe[1], fd) } < 0 {
        // SAFETY: closing descriptors this function opened and nothing else uses.
        unsafe {
            libc::close(pipe[0]);
            libc::close(pipe[1]);
            if real >= 0 {
                libc::close(real);
            }
        }
        return None;
    }
    // SAFETY: as above, our own descriptor.
    unsafe { libc::close(pipe[1]) };
    if fd == libc::STDERR_FILENO {
        // A SIGBUS ends the process with `_exit` before the copier could pass its line on.
        fbench_strategies::shm::sigbus_message_to(real);
    }
    // SAFETY: `pipe[0]` and `real` are open descriptors owned by nothing else from here on.
    let (mut from, mut to) = unsafe { (File::from_raw_fd(pipe[0]), File::from_raw_fd(real)) };
    let (done, drained) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("fbench-fd{fd}"))
        .spawn(move || {
            let mut buffer = vec![0u8; 64 * 1024];
            let mut reader_gone = false;
            loop {
                match from.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) if !reader_gone => reader_gone = to.write_all(&buffer[..n]).is_err(),
                    // Keep reading after the reader left, so that writers never block.
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = done.send(());
        })
        .ok()?;
    // `real` is owned by the thread's File; the Redirect keeps its number to put it back.
    Some(Redirect { fd, real, drained })
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}
