//! Starts moto server (SQS + DynamoDB emulator) on 127.0.0.1 and stops it
//! when dropped, so a crashed test or Ctrl-C leaves no server behind.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error(
        "moto_server was not found (looked at $MOTO_SERVER, {venv} and PATH): \
         run infra/scripts/test.sh or infra/scripts/run-local.sh once to create .venv"
    )]
    NotInstalled { venv: String },
    #[error("could not start moto_server: {0}")]
    Spawn(std::io::Error),
    #[error("moto_server did not answer on {addr} within {seconds} s")]
    NotReady { addr: SocketAddr, seconds: u64 },
}

/// A running moto server; killed on drop.
pub struct MotoServer {
    child: Child,
    addr: SocketAddr,
}

impl MotoServer {
    /// Starts moto on `port` (0 picks a free port) and waits until it answers.
    pub fn start(workspace_root: &Path, port: u16) -> Result<MotoServer, MotoError> {
        let binary = find_moto_server(workspace_root)?;
        let port = if port == 0 { free_port() } else { port };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(MotoError::Spawn)?;
        let mut server = MotoServer { child, addr };
        server.wait_ready(Duration::from_secs(30))?;
        Ok(server)
    }

    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), MotoError> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(MotoError::Spawn(std::io::Error::other(format!(
                    "moto_server exited with {status}"
                ))));
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(MotoError::NotReady {
            addr: self.addr,
            seconds: limit.as_secs(),
        })
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_moto_server(workspace_root: &Path) -> Result<PathBuf, MotoError> {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return Ok(PathBuf::from(path));
    }
    let venv = workspace_root.join(".venv/bin/moto_server");
    if venv.is_file() {
        return Ok(venv);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("moto_server");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
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
