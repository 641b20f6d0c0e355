//! Starts moto server (SQS + DynamoDB emulator) on 127.0.0.1 through
//! `infra/local-stack/moto_server.py`, which makes DynamoDB's conditional
//! writes atomic as they are in AWS and exits when our end of its stdin
//! closes: no server outlives the process that started it.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The launcher script, embedded so any binary can start moto.
const LAUNCHER: &str = include_str!("../moto_server.py");

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error(
        "no Python with moto found (looked at $MOTO_PYTHON and {venv}): \
         run infra/scripts/test.sh or infra/scripts/run-local.sh once to create .venv"
    )]
    NotInstalled { venv: String },
    #[error("could not start moto server: {0}")]
    Spawn(std::io::Error),
    #[error("moto server did not answer on {addr} within {seconds} s")]
    NotReady { addr: SocketAddr, seconds: u64 },
}

/// A running moto server; stopped on drop, and by its own watchdog when
/// this process ends (statics are never dropped).
pub struct MotoServer {
    child: Mutex<Child>,
    // Held open: closing it tells moto to exit.
    _stdin: Mutex<Option<ChildStdin>>,
    addr: SocketAddr,
}

impl MotoServer {
    /// Starts moto on `port` (0 picks a free port) and waits until it answers.
    pub fn start(workspace_root: &Path, port: u16) -> Result<MotoServer, MotoError> {
        let python = find_python(workspace_root)?;
        let port = if port == 0 { free_port() } else { port };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut child = Command::new(&python)
            .args(["-c", LAUNCHER, &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(MotoError::Spawn)?;
        let stdin = child.stdin.take();
        let server = MotoServer {
            child: Mutex::new(child),
            _stdin: Mutex::new(stdin),
            addr,
        };
        server.wait_ready(Duration::from_secs(30))?;
        Ok(server)
    }

    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process id (for the load test's CPU readings).
    pub fn pid(&self) -> u32 {
        self.lock_child().id()
    }

    fn wait_ready(&self, limit: Duration) -> Result<(), MotoError> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.lock_child().try_wait() {
                return Err(MotoError::Spawn(std::io::Error::other(format!(
                    "moto server exited with {status}"
                ))));
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                if let Ok(mut stdin) = self._stdin.lock() {
                    if let Some(stdin) = stdin.as_mut() {
                        let _ = stdin.flush();
                    }
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(MotoError::NotReady {
            addr: self.addr,
            seconds: limit.as_secs(),
        })
    }

    fn lock_child(&self) -> std::sync::MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let mut child = self.lock_child();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The Python that has moto: `$MOTO_PYTHON`, else the workspace's `.venv`.
fn find_python(workspace_root: &Path) -> Result<PathBuf, MotoError> {
    if let Some(path) = std::env::var_os("MOTO_PYTHON") {
        return Ok(PathBuf::from(path));
    }
    let venv = workspace_root.join(".venv/bin/python");
    if venv.is_file() {
        return Ok(venv);
    }
    Err(MotoError::NotInstalled {
        venv: venv.display().to_string(),
    })
}

/// A port that was free a moment ago (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(45_123)
}
