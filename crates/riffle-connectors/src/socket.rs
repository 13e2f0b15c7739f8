//! Line-delimited TCP: a source that connects to a server and reads lines, and a sink that
//! connects and writes them (Flink's `socketTextStream` and socket sink).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::TcpStream;
use std::sync::mpsc::{sync_channel, Receiver, TryRecvError};
use std::time::Duration;

use riffle_core::{BadRecordPolicy, RecordLocation, Result, RiffleError};
use riffle_runtime::{
    Data, DataStream, Env, EventTime, Sink, SourceReader, SourceStatus, WatermarkStrategy,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bad_record::BadRecords;
use crate::format::{decode_line, encode_line, Format};

/// Lines buffered between the socket thread and the source before the thread waits.
const CHANNEL_LINES: usize = 16 * 1024;
const BATCH: usize = 1024;

/// Reads lines from a TCP server at `address` (`host:port`). Worker 0 reads; the source ends
/// when the server closes the connection. A last line without its newline was cut off
/// mid-record and goes through the bad-record policy.
#[derive(Debug, Clone)]
pub struct SocketSource {
    address: String,
    format: Format,
    policy: BadRecordPolicy,
}

impl SocketSource {
    /// A source reading `format` lines from `address`.
    pub fn new(address: impl Into<String>, format: Format) -> Self {
        SocketSource {
            address: address.into(),
            format,
            policy: BadRecordPolicy::Fail,
        }
    }

    /// What to do with malformed records.
    pub fn policy(mut self, policy: BadRecordPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// A stream of the records read on worker 0 (empty on the others).
    pub fn stream<'s, T: Data>(
        &self,
        env: &Env<'s>,
        name: &str,
        strategy: WatermarkStrategy<T>,
    ) -> Result<DataStream<'s, T>> {
        // Worker 0 connects at its first poll rather than here: a failure then fails the
        // running job, whereas a build error on one worker only would leave the others
        // waiting for a dataflow that never forms.
        let reader = SocketReader {
            source: self.clone(),
            reads: env.worker_index() == 0,
            address: self.address.clone(),
            format: self.format.clone(),
            lines: None,
            line_no: 0,
            bad: BadRecords::new(self.policy.clone(), name, env.job())?,
            _records: std::marker::PhantomData,
        };
        Ok(env.source(name, reader, strategy))
    }

    fn connect(&self) -> Result<Receiver<Line>> {
        read_lines(&self.address)
    }
}

/// A line read from a socket by [`read_lines`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A whole line, without its line end.
    Complete(String),
    /// The connection closed after this text, before a line end: a cut-off record.
    Truncated(String),
    /// Reading failed.
    Failed(String),
}

/// Connects to the TCP server at `address` and reads its lines on a thread of their own,
/// up to 16 K lines ahead of the receiver. The channel closes when the server does.
pub fn read_lines(address: &str) -> Result<Receiver<Line>> {
    let stream = TcpStream::connect(address).map_err(|e| RiffleError::Network {
        endpoint: address.to_string(),
        message: format!("cannot connect: {e}"),
    })?;
    let (tx, rx) = sync_channel(CHANNEL_LINES);
    std::thread::Builder::new()
        .name(format!("socket-source-{address}"))
        .spawn(move || {
            let mut reader = BufReader::new(stream);
            loop {
                let mut buf = Vec::new();
                let line = match reader.read_until(b'\n', &mut buf) {
                    Ok(0) => return,
                    Ok(_) => {
                        let complete = buf.last() == Some(&b'\n');
                        let text = String::from_utf8_lossy(&buf)
                            .trim_end_matches(['\n', '\r'])
                            .to_string();
                        if complete {
                            Line::Complete(text)
                        } else {
                            Line::Truncated(text)
                        }
                    }
                    Err(e) => Line::Failed(e.to_string()),
                };
                let last = !matches!(line, Line::Complete(_));
                if tx.send(line).is_err() || last {
                    return;
                }
            }
        })
        .map_err(|e| RiffleError::Runtime(format!("cannot start socket thread: {e}")))?;
    Ok(rx)
}

struct SocketReader<T> {
    source: SocketSource,
    reads: bool,
    address: String,
    format: Format,
    lines: Option<Receiver<Line>>,
    line_no: u64,
    bad: BadRecords,
    _records: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + 'static> SourceReader<T> for SocketReader<T> {
    fn poll(&mut self, out: &mut Vec<T>) -> Result<SourceStatus> {
        if !self.reads {
            return Ok(SourceStatus::Finished);
        }
        if self.lines.is_none() {
            self.lines = Some(self.source.connect()?);
        }
        let Some(lines) = self.lines.as_ref() else {
            return Ok(SourceStatus::Finished);
        };
        while out.len() < BATCH {
            let line = match lines.try_recv() {
                Ok(line) => line,
                Err(TryRecvError::Empty) => {
                    return Ok(if out.is_empty() {
                        SourceStatus::Idle
                    } else {
                        SourceStatus::Ready
                    })
                }
                Err(TryRecvError::Disconnected) => return Ok(SourceStatus::Finished),
            };
            self.line_no += 1;
            let location = RecordLocation::new(self.address.as_str(), self.line_no);
            match line {
                Line::Complete(text) => match decode_line(&self.format, &text, &location) {
                    Ok(v) => out.push(v),
                    Err((loc, message)) => self.bad.handle(loc, &text, message)?,
                },
                Line::Truncated(text) => self.bad.handle(
                    location,
                    &text,
                    "connection closed in the middle of a record (no line end)".into(),
                )?,
                Line::Failed(message) => {
                    return Err(RiffleError::Network {
                        endpoint: self.address.clone(),
                        message: format!("read failed at line {}: {message}", self.line_no),
                    })
                }
            }
        }
        Ok(SourceStatus::Ready)
    }
}

/// Writes records as lines to a TCP server at `address`.
pub struct SocketSink {
    address: String,
    format: Format,
    writer: BufWriter<TcpStream>,
}

impl SocketSink {
    /// Connects to `address`, retrying for up to five seconds.
    pub fn connect(address: impl Into<String>, format: Format) -> Result<Self> {
        let address = address.into();
        let mut last_error = None;
        for _ in 0..50 {
            match TcpStream::connect(&address) {
                Ok(stream) => {
                    return Ok(SocketSink {
                        address,
                        format,
                        writer: BufWriter::new(stream),
                    })
                }
                Err(e) => {
                    last_error = Some(e);
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        Err(RiffleError::Network {
            endpoint: address,
            message: format!(
                "cannot connect: {}",
                last_error.map(|e| e.to_string()).unwrap_or_default()
            ),
        })
    }

    fn io_error(&self, e: std::io::Error) -> RiffleError {
        RiffleError::Network {
            endpoint: self.address.clone(),
            message: format!("write failed: {e}"),
        }
    }
}

impl<T: Serialize + 'static> Sink<T> for SocketSink {
    fn write(&mut self, records: &mut Vec<(EventTime, T)>) -> Result<()> {
        for (_, record) in records.drain(..) {
            let line = encode_line(&self.format, &record)
                .map_err(|e| RiffleError::Runtime(format!("cannot encode record: {e}")))?;
            writeln!(self.writer, "{line}").map_err(|e| self.io_error(e))?;
        }
        self.writer.flush().map_err(|e| self.io_error(e))
    }

    fn finish(&mut self) -> Result<()> {
        self.writer.flush().map_err(|e| self.io_error(e))
    }
}
