//! A Prometheus endpoint for a running job: `GET /metrics` answers with this process's
//! counters in Prometheus' text format, as Flink's Prometheus reporter does.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use riffle_core::{Result, RiffleError};

use crate::job::JobShared;
use crate::time::MIN_WATERMARK;

/// Serves a job's metrics over HTTP until dropped.
///
/// ```
/// use std::io::{Read, Write};
/// use std::sync::Arc;
/// use riffle_runtime::{JobShared, MetricsServer};
/// let job = Arc::new(JobShared::default());
/// job.counter("source.clicks.records").fetch_add(7, std::sync::atomic::Ordering::Relaxed);
/// let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), Arc::clone(&job), 0).unwrap();
/// let mut conn = std::net::TcpStream::connect(server.address()).unwrap();
/// conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
/// let mut reply = String::new();
/// conn.read_to_string(&mut reply).unwrap();
/// assert!(reply.contains("riffle_source_clicks_records_total{process=\"0\"} 7"));
/// ```
pub struct MetricsServer {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How often the accept loop looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);

impl MetricsServer {
    /// Listens on `address` (port 0 picks a free port) and serves the metrics of `job`,
    /// labelled with this `process`'s index.
    pub fn start(address: SocketAddr, job: Arc<JobShared>, process: usize) -> Result<Self> {
        let listener = TcpListener::bind(address)
            .map_err(|e| RiffleError::Config(format!("cannot serve metrics on {address}: {e}")))?;
        let address = listener
            .local_addr()
            .map_err(|e| RiffleError::Runtime(format!("metrics listener: {e}")))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| RiffleError::Runtime(format!("metrics listener: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("riffle-metrics".into())
            .spawn(move || serve(&listener, &job, process, &stopped))
            .map_err(|e| RiffleError::Runtime(format!("cannot start the metrics thread: {e}")))?;
        tracing::info!(%address, "serving metrics at http://{address}/metrics");
        Ok(MetricsServer {
            address,
            stop,
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: &TcpListener, job: &JobShared, process: usize, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((conn, peer)) => {
                if let Err(error) = answer(conn, job, process) {
                    tracing::debug!(%peer, %error, "metrics request failed");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(error) => {
                tracing::warn!(%error, "metrics listener failed; no more metrics are served");
                return;
            }
        }
    }
}

/// Answers one HTTP request: the metrics for `GET /metrics` (or `/`), 404 otherwise.
fn answer(conn: TcpStream, job: &JobShared, process: usize) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(&conn);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the headers: nothing in them changes the answer.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = match path {
        "/metrics" | "/" => ("200 OK", render(job, process)),
        _ => ("404 Not Found", "not found: try /metrics\n".to_string()),
    };
    let mut out = &conn;
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}

/// Prometheus' text format: every counter as `riffle_<name>_total`, plus the process's
/// highest source watermark and the job's state.
pub(crate) fn render(job: &JobShared, process: usize) -> String {
    let mut out = String::new();
    let label = format!("{{process=\"{process}\"}}");
    for (name, value) in job.counters() {
        let metric = format!("riffle_{}_total", sanitize(&name));
        out.push_str(&format!(
            "# TYPE {metric} counter\n{metric}{label} {value}\n"
        ));
    }
    let watermark = job.max_watermark();
    if watermark > MIN_WATERMARK {
        out.push_str(&format!(
            "# HELP riffle_watermark_ms The highest watermark a source of this process reached.\n\
             # TYPE riffle_watermark_ms gauge\nriffle_watermark_ms{label} {watermark}\n"
        ));
    }
    out.push_str(&format!(
        "# TYPE riffle_job_failed gauge\nriffle_job_failed{label} {}\n",
        u8::from(job.has_failed())
    ));
    out
}

/// A counter name as a Prometheus metric name: letters, digits and underscores.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_prometheus_text() {
        let job = JobShared::default();
        job.counter("source.my-file.records")
            .fetch_add(3, Ordering::Relaxed);
        job.counter("window.late_records_dropped");
        job.observe_watermark(1_700_000_000_000);
        let text = render(&job, 2);
        assert!(text.contains(
            "# TYPE riffle_source_my_file_records_total counter\n\
             riffle_source_my_file_records_total{process=\"2\"} 3\n"
        ));
        assert!(text.contains("riffle_window_late_records_dropped_total{process=\"2\"} 0\n"));
        assert!(text.contains("riffle_watermark_ms{process=\"2\"} 1700000000000\n"));
        assert!(text.contains("riffle_job_failed{process=\"2\"} 0\n"));
    }

    #[test]
    fn other_paths_are_not_found() {
        let job = Arc::new(JobShared::default());
        let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), job, 0).unwrap();
        let mut conn = TcpStream::connect(server.address()).unwrap();
        conn.write_all(b"GET /nope HTTP/1.1\r\n\r\n").unwrap();
        let mut reply = String::new();
        std::io::Read::read_to_string(&mut conn, &mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
    }
}
