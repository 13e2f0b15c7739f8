//! The print and blackhole sinks.

use std::fmt::Debug;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use riffle_core::{Result, RiffleError};
use riffle_runtime::{Env, EventTime, Sink};

/// Prints every record to standard output with `{:?}`, prefixed by the worker index when
/// the job has more than one worker (as Flink's print sink does: `2> record`).
pub struct PrintSink {
    prefix: Option<String>,
    out: BufWriter<std::io::Stdout>,
}

impl PrintSink {
    /// A print sink for this worker.
    pub fn new(env: &Env<'_>) -> Self {
        let prefix = (env.workers() > 1).then(|| format!("{}> ", env.worker_index() + 1));
        PrintSink {
            prefix,
            out: BufWriter::new(std::io::stdout()),
        }
    }

    fn flush(&mut self) -> Result<()> {
        match self.out.flush() {
            // A closed pipe (`riffle ... | head`) ends printing, not the job.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(RiffleError::io("stdout", e)),
            Ok(()) => Ok(()),
        }
    }
}

impl<T: Debug + 'static> Sink<T> for PrintSink {
    fn write(&mut self, records: &mut Vec<(EventTime, T)>) -> Result<()> {
        for (_, record) in records.drain(..) {
            let written = match &self.prefix {
                Some(p) => writeln!(self.out, "{p}{record:?}"),
                None => writeln!(self.out, "{record:?}"),
            };
            if let Err(e) = written {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(());
                }
                return Err(RiffleError::io("stdout", e));
            }
        }
        self.flush()
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
}

/// Discards records, counting them: for benchmarks and for jobs run for their side effects.
pub struct BlackholeSink {
    count: Arc<AtomicU64>,
    local: u64,
}

impl BlackholeSink {
    /// A blackhole whose count is the job counter `sink.blackhole.records`.
    pub fn new(env: &Env<'_>) -> Self {
        BlackholeSink {
            count: env.job().counter("sink.blackhole.records"),
            local: 0,
        }
    }
}

impl<T: 'static> Sink<T> for BlackholeSink {
    fn write(&mut self, records: &mut Vec<(EventTime, T)>) -> Result<()> {
        self.local += records.len() as u64;
        records.clear();
        if self.local >= 1 << 16 {
            self.count
                .fetch_add(std::mem::take(&mut self.local), Ordering::Relaxed);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.count
            .fetch_add(std::mem::take(&mut self.local), Ordering::Relaxed);
        Ok(())
    }
}
