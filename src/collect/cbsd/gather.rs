//! The thin layer that runs the CBSD backend's commands.
//!
//! - argv only, never a shell string: VM names come from users and are passed as data.
//! - Each command runs in its own process group with a deadline. CBSD commands are shell
//!   scripts whose children inherit the output pipe; killing only the script would leave a
//!   child holding the pipe open, so on timeout the whole group gets SIGKILL.
//! - Commands are started first and waited for later ([`Runner::start`], [`Running::output`]),
//!   so independent commands run side by side and the slowest one sets the pace.
//! - `LC_ALL=C` keeps numbers in the C locale (`ps` would print `0,5` elsewhere).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use crate::error::CollectError;
use crate::text::{Shown, for_terminal};

/// Most a command may print on stdout; more means something is badly wrong.
const STDOUT_LIMIT: u64 = 64 << 20;
/// Most of stderr we keep; only its start goes into messages.
const STDERR_LIMIT: u64 = 64 << 10;
/// How long to wait for a killed process to be reaped and its pipes to close.
const KILL_GRACE: Duration = Duration::from_secs(1);
/// Characters of stderr quoted in a failure message.
const STDERR_QUOTE: usize = 200;

/// Directories the FreeBSD tools and CBSD live in. Cron runs jobs with PATH=/usr/bin:/bin,
/// where `cbsd` (/usr/local/bin), `zfs`, `sysctl` and `ifconfig` (/sbin) are not found.
pub const SYSTEM_DIRS: [&str; 6] = [
    "/sbin",
    "/bin",
    "/usr/sbin",
    "/usr/bin",
    "/usr/local/sbin",
    "/usr/local/bin",
];

/// The PATH commands are run with: `explicit` as given (the `HV_MONITOR_CBSD_PATH`
/// override, used by tests and unusual installs), else the inherited PATH followed by the
/// [`SYSTEM_DIRS`] it lacks.
pub fn search_path(explicit: Option<&OsStr>, inherited: Option<&OsStr>) -> OsString {
    if let Some(explicit) = explicit {
        return explicit.to_owned();
    }
    let mut dirs: Vec<OsString> = inherited
        .map(|p| std::env::split_paths(p).map(OsString::from).collect())
        .unwrap_or_default();
    for dir in SYSTEM_DIRS {
        if !dirs.iter().any(|d| d == dir) {
            dirs.push(dir.into());
        }
    }
    std::env::join_paths(dirs).unwrap_or_else(|_| inherited.unwrap_or_default().to_owned())
}

/// A command that could not give its output, with the command line for the message.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandFailure {
    /// The command line as run.
    pub command: String,
    /// The spawn error, the timeout, or the exit status with stderr.
    pub reason: String,
}

impl fmt::Display for CommandFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "command '{}' failed: {}", self.command, self.reason)
    }
}

impl From<CommandFailure> for CollectError {
    fn from(f: CommandFailure) -> CollectError {
        CollectError::Command {
            command: f.command,
            reason: f.reason,
        }
    }
}

/// Starts commands with one PATH and one set of time limits.
#[derive(Debug, Clone)]
pub struct Runner {
    path: OsString,
    /// Longest any one command may run.
    command_timeout: Duration,
    /// No command runs past this instant (the collection's own deadline), if set.
    deadline: Option<Instant>,
}

impl Runner {
    /// Commands are looked up in `path`; each gets `command_timeout`, none runs past `deadline`.
    pub fn new(path: OsString, command_timeout: Duration, deadline: Option<Instant>) -> Runner {
        Runner {
            path,
            command_timeout,
            deadline,
        }
    }

    /// Starts `program args...`. Fails at once when the program is missing or cannot run.
    pub fn start(&self, program: &str, args: &[String]) -> Result<Running, CommandFailure> {
        let command = command_line(program, args);
        let started = Instant::now();
        let mut deadline = started + self.command_timeout;
        if let Some(limit) = self.deadline {
            deadline = deadline.min(limit);
        }
        let failure = |reason: String| CommandFailure {
            command: command.clone(),
            reason,
        };
        let mut child = Command::new(program)
            .args(args)
            // Setting PATH on the command also makes std look the program up in it.
            .env("PATH", &self.path)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| {
                failure(match e.kind() {
                    io::ErrorKind::NotFound => {
                        format!(
                            "'{program}' not found in PATH {}",
                            self.path.to_string_lossy()
                        )
                    }
                    io::ErrorKind::PermissionDenied => format!("'{program}' is not executable"),
                    _ => format!("cannot start: {e}"),
                })
            })?;
        let pid = child.id();
        let stdout = child
            .stdout
            .take()
            .map(|s| read_in_background(s, STDOUT_LIMIT));
        let stderr = child
            .stderr
            .take()
            .map(|s| read_in_background(s, STDERR_LIMIT));
        let (status_tx, status) = mpsc::channel();
        let waiter = std::thread::Builder::new()
            .name("cbsd-wait".into())
            .spawn(move || {
                let _ = status_tx.send(child.wait());
            });
        if let Err(e) = waiter {
            kill_group(pid);
            return Err(failure(format!(
                "cannot start a thread to wait for it: {e}"
            )));
        }
        match (stdout, stderr) {
            (Some(Ok(stdout)), Some(Ok(stderr))) => Ok(Running {
                command,
                pid,
                started,
                deadline,
                status,
                stdout,
                stderr,
            }),
            _ => {
                kill_group(pid);
                Err(failure("cannot read its output".into()))
            }
        }
    }
}

/// The command line for messages; arguments are shown as given, not quoted for a shell.
fn command_line(program: &str, args: &[String]) -> String {
    std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

type OutputReceiver = Receiver<io::Result<Vec<u8>>>;

/// Reads `source` to its end on a thread of its own, so a full stderr pipe cannot stall a
/// command while we read its stdout.
fn read_in_background(
    source: impl Read + Send + 'static,
    limit: u64,
) -> io::Result<OutputReceiver> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("cbsd-read".into())
        .spawn(move || {
            let mut buf = Vec::new();
            let result = source.take(limit + 1).read_to_end(&mut buf).and_then(|_| {
                if buf.len() as u64 > limit {
                    Err(io::Error::other(format!(
                        "printed more than {} KiB",
                        limit >> 10
                    )))
                } else {
                    Ok(buf)
                }
            });
            let _ = tx.send(result);
        })?;
    Ok(rx)
}

/// SIGKILL to the command's process group (the command and everything it started).
fn kill_group(pid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions. The group id is our child's pid,
    // made a group leader by process_group(0); it cannot be reused while the group exists.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// A started command.
#[derive(Debug)]
pub struct Running {
    command: String,
    pid: u32,
    started: Instant,
    deadline: Instant,
    status: Receiver<io::Result<ExitStatus>>,
    stdout: OutputReceiver,
    stderr: OutputReceiver,
}

impl Running {
    /// Waits for the command and returns its stdout. Exit status 0, or one of `also_ok`
    /// (`ps` exits 1 when none of the PIDs exists any more), counts as success.
    pub fn output(self, also_ok: &[i32]) -> Result<String, CommandFailure> {
        let failure = |reason: String| CommandFailure {
            command: self.command.clone(),
            reason,
        };
        let limit = self.deadline.saturating_duration_since(self.started);
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let status = match self.status.recv_timeout(remaining) {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => {
                kill_group(self.pid);
                return Err(failure(format!("cannot wait for it: {e}")));
            }
            Err(_) => {
                kill_group(self.pid);
                // Reap it; SIGKILL cannot be ignored, so this is quick.
                let _ = self.status.recv_timeout(KILL_GRACE);
                return Err(failure(format!(
                    "no answer within {:.1} s; killed",
                    limit.as_secs_f64()
                )));
            }
        };
        let stdout = self.collect(&self.stdout).map_err(&failure)?;
        let stderr = self.collect(&self.stderr).unwrap_or_default();
        if status.success() || status.code().is_some_and(|c| also_ok.contains(&c)) {
            return Ok(String::from_utf8_lossy(&stdout).into_owned());
        }
        let how = match status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        };
        let said = stderr_excerpt(&stderr);
        Err(failure(if said.is_empty() {
            how
        } else {
            format!("{how}: {said}")
        }))
    }

    /// One output stream, once every process holding the pipe has closed it. A background
    /// process that keeps it open is killed at the deadline.
    fn collect(&self, stream: &OutputReceiver) -> Result<Vec<u8>, String> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let received = stream.recv_timeout(remaining).or_else(|_| {
            kill_group(self.pid);
            stream.recv_timeout(KILL_GRACE)
        });
        match received {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(e)) => Err(format!("reading its output: {e}")),
            Err(_) => Err("it exited but a process it started kept its output open".into()),
        }
    }
}

/// The first lines of stderr, colours removed, on one line.
fn stderr_excerpt(stderr: &[u8]) -> String {
    let text = super::parse::strip_ansi(&String::from_utf8_lossy(stderr));
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    for_terminal(&joined, Shown::chars(STDERR_QUOTE).controls_as_spaces())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(timeout: Duration) -> Runner {
        Runner::new(search_path(None, None), timeout, None)
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn path_adds_the_system_dirs_cron_lacks() {
        let path = search_path(None, Some(OsStr::new("/usr/bin:/bin")));
        assert_eq!(
            path,
            "/usr/bin:/bin:/sbin:/usr/sbin:/usr/local/sbin:/usr/local/bin"
        );
        assert_eq!(
            search_path(Some(OsStr::new("/fake")), Some(OsStr::new("/bin"))),
            "/fake"
        );
    }

    #[test]
    fn arguments_are_data_not_shell() {
        let out = runner(Duration::from_secs(5))
            .start("printf", &args(&["%s|", "a b", "$(id)", ";", "*"]))
            .unwrap()
            .output(&[])
            .unwrap();
        assert_eq!(out, "a b|$(id)|;|*|");
    }

    #[test]
    fn failure_names_command_status_and_stderr() {
        let err = runner(Duration::from_secs(5))
            .start(
                "sh",
                &args(&["-c", "echo '\x1b[31mno such VM\x1b[0m' >&2; exit 3"]),
            )
            .unwrap()
            .output(&[])
            .unwrap_err();
        assert!(err.command.starts_with("sh -c"), "{err}");
        assert_eq!(err.reason, "exit status 3: no such VM");
        let ok = runner(Duration::from_secs(5))
            .start("sh", &args(&["-c", "echo partial; exit 1"]))
            .unwrap()
            .output(&[1])
            .unwrap();
        assert_eq!(ok, "partial\n");
    }

    #[test]
    fn a_missing_program_is_named() {
        let err = runner(Duration::from_secs(5))
            .start("hv-monitor-no-such-program", &[])
            .unwrap_err();
        assert!(
            err.reason
                .starts_with("'hv-monitor-no-such-program' not found in PATH"),
            "{err}"
        );
    }

    #[test]
    fn a_hanging_command_and_its_children_are_killed() {
        let begun = Instant::now();
        // The shell's child `sleep` holds stdout too: only a group kill frees the pipe.
        let err = runner(Duration::from_millis(300))
            .start("sh", &args(&["-c", "echo started; sleep 30; echo never"]))
            .unwrap()
            .output(&[])
            .unwrap_err();
        assert!(
            begun.elapsed() < Duration::from_secs(3),
            "{:?}",
            begun.elapsed()
        );
        assert_eq!(err.reason, "no answer within 0.3 s; killed");
    }

    #[test]
    fn the_collection_deadline_caps_every_command() {
        let runner = Runner::new(
            search_path(None, None),
            Duration::from_secs(60),
            Some(Instant::now() + Duration::from_millis(200)),
        );
        let begun = Instant::now();
        let err = runner
            .start("sleep", &args(&["30"]))
            .unwrap()
            .output(&[])
            .unwrap_err();
        assert!(begun.elapsed() < Duration::from_secs(3));
        assert!(err.reason.contains("killed"), "{err}");
    }
}
