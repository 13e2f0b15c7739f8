//! The `riffle` command: runs the demo and the example jobs on one thread, many threads, or
//! a cluster of processes, and measures them.

mod bench;
mod ml;
mod progress;
mod repl;
mod sql;

/// The engine allocates and frees many short-lived batches; mimalloc keeps them in
/// thread-local pages instead of returning them to the kernel, in ordinary pages rather than
/// transparent huge ones (the workspace's `no_thp` feature; see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use riffle_connectors::nexmark::NexmarkConfig;
use riffle_core::{Result, RiffleError};
use riffle_examples::Output;
use riffle_runtime::{CheckpointConfig, ExecutionConfig, JobReport, Restore};

const ABOUT: &str = "Riffle: stream processing with machine learning built in.

One binary runs a job on one thread, on many threads (-w), or on a cluster of processes
(-n, -p, --hostfile); results are the same either way.";

const EXAMPLES: &str = "Examples:
  riffle demo                                  fraud monitoring with online learning, live
                                               precision/recall on generated payments
  riffle demo -w 2 --events 10000000           the same on two worker threads
  riffle run hot-items                         Nexmark hot items on the embedded generator
  riffle run wordcount --input README.md       word counts of a file
  riffle run socket-wordcount --address 127.0.0.1:9999
                                               word counts per 5 s from `nc -lk 9999`
  riffle run fraud --events 2000000            3 large payments within a minute
  riffle run analytics --events 3000000        online forecast of each store's next window
  riffle run recommendation --events 200000    top-10 per click, live hit-rate@10
  riffle run click-counts --rate 100000 --output out/ --checkpoint-dir chk/
                                               exactly-once files; after a crash add --restore latest
  riffle run window-join --output out/         orders joined with payments, to files
  riffle run ml-flow --dir flow/               JSON events -> features -> linear regression
                                               (5-fold CV, L-BFGS) -> predictions to files
  riffle bench                                 throughput of the built-in jobs
  riffle sql -f examples/sql/hello.sql         a Flink SQL script over bounded tables
  riffle sql -f examples/nexmark/q5.sql -w 2   a streaming Nexmark query on 2 workers
  riffle sql -e 'SELECT 1 + 1' --format csv    statements from the command line, as CSV
  riffle sql                                   the interactive SQL shell (history, Tab completion)
  riffle ml fit --algo logistic-regression --data train.csv --label y --out model/
                                               fit a model on a CSV file (see `riffle ml --help`)

A cluster of 2 processes with 2 workers each, on this machine:
  riffle demo -n 2 -p 0 -w 2 &  riffle demo -n 2 -p 1 -w 2
(or list host:port per line in a file and pass --hostfile FILE).

Logs: set RUST_LOG=info (or debug) for more detail.";

#[derive(Parser, Debug)]
#[command(name = "riffle", version, about = ABOUT, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(subcommand)]
    command: Command,
}

/// Where a job runs.
#[derive(Args, Debug, Clone)]
struct ClusterArgs {
    /// Worker threads in each process.
    #[arg(
        short = 'w',
        long = "workers",
        visible_alias = "parallelism",
        default_value_t = 1,
        global = true
    )]
    workers: usize,
    /// Number of processes in the cluster.
    #[arg(short = 'n', long = "processes", default_value_t = 1, global = true)]
    processes: usize,
    /// Index of this process, from 0.
    #[arg(short = 'p', long = "process", default_value_t = 0, global = true)]
    process: usize,
    /// File with the host:port of every process, one per line (default: 127.0.0.1 from port 2101).
    #[arg(long, global = true)]
    hostfile: Option<PathBuf>,
    /// Take periodic checkpoints into this directory (shared by all processes).
    #[arg(long, global = true)]
    checkpoint_dir: Option<PathBuf>,
    /// Milliseconds between checkpoints.
    #[arg(long, default_value_t = 1000, global = true)]
    checkpoint_interval: u64,
    /// Restart from a checkpoint: `latest` (the newest complete one in --checkpoint-dir, if
    /// any) or the path of a checkpoint directory.
    #[arg(long, global = true, requires = "checkpoint_dir")]
    restore: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics while the job runs (for example
    /// 127.0.0.1:9249; with several processes on one host, give each its own port).
    #[arg(long, global = true, value_name = "ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
}

impl ClusterArgs {
    fn config(&self) -> Result<ExecutionConfig> {
        let mut config = match &self.hostfile {
            Some(path) => ExecutionConfig::cluster(
                self.workers,
                self.process,
                ExecutionConfig::read_hostfile(path)?,
            ),
            None if self.processes > 1 => {
                ExecutionConfig::local_cluster(self.workers, self.processes, self.process, 2101)
            }
            None => ExecutionConfig::threads(self.workers),
        };
        if self.hostfile.is_some() && self.processes > 1 && config.processes != self.processes {
            return Err(RiffleError::Config(format!(
                "-n {} but the host file lists {} processes",
                self.processes, config.processes
            )));
        }
        config.process = self.process;
        if let Some(dir) = &self.checkpoint_dir {
            let restore = match self.restore.as_deref() {
                None => None,
                Some("latest") => Some(Restore::Latest),
                Some(path) => Some(Restore::Path(PathBuf::from(path))),
            };
            config = config.with_checkpoints(CheckpointConfig {
                dir: dir.clone(),
                interval: Duration::from_millis(self.checkpoint_interval.max(1)),
                restore,
            });
        }
        if let Some(address) = self.metrics_addr {
            config = config.with_metrics(address);
        }
        config.validate()?;
        Ok(config)
    }
}

/// Where results go.
#[derive(Args, Debug, Clone)]
struct OutputArgs {
    /// Write results as JSON-lines part files into this directory instead of printing them.
    #[arg(long, conflicts_with = "discard")]
    output: Option<PathBuf>,
    /// Drop the results (count them only).
    #[arg(long)]
    discard: bool,
}

impl OutputArgs {
    fn output(&self) -> Output {
        match (&self.output, self.discard) {
            (Some(dir), _) => Output::Directory(dir.clone()),
            (None, true) => Output::Discard,
            (None, false) => Output::Print,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the demo: real-time fraud monitoring with online learning on generated payments
    /// (an online classifier and an anomaly detector per region, live precision and recall
    /// against the injected fraud, a concept drift half-way).
    Demo {
        /// Payments to generate.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Events per second in all; unlimited if not given.
        #[arg(long)]
        rate: Option<u64>,
        /// Generator seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Run an example job (see `riffle run --help`).
    #[command(subcommand)]
    Run(Example),
    /// Measure the throughput of built-in jobs (events per second, per worker count).
    Bench(bench::BenchArgs),
    /// Run Flink SQL: a script (-f) or statements (-e), over bounded tables (batch mode).
    Sql(sql::SqlArgs),
    /// Machine learning on CSV/Parquet files: fit, predict, evaluate, cross-validate.
    #[command(subcommand, after_help = ml::ML_EXAMPLES)]
    Ml(ml::MlCommand),
}

/// How much generated input an example reads, how fast, and from which seed.
#[derive(Args, Debug, Clone, Copy)]
struct Generated {
    /// Events to generate.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Events per second in all; unlimited if not given.
    #[arg(long)]
    rate: Option<u64>,
    /// Generator seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Subcommand, Debug)]
enum Example {
    /// Count words in a text file or a directory of text files.
    Wordcount {
        /// File or directory to read.
        #[arg(long)]
        input: PathBuf,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Count words per processing-time window in lines from a TCP server.
    SocketWordcount {
        /// host:port of the server (for example `nc -lk 9999`).
        #[arg(long)]
        address: String,
        /// Window length in seconds.
        #[arg(long, default_value_t = 5)]
        window_secs: u64,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Nexmark hot items: the auction with most bids per 10 s window, every 2 s.
    HotItems {
        #[command(flatten)]
        generated: Generated,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Views per page per second of event time over generated clicks.
    ClickCounts {
        #[command(flatten)]
        generated: Generated,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Forecast each store's next 10 s of sales with an online regression on the window
    /// totals; live error beside a no-change forecast.
    Analytics {
        #[command(flatten)]
        generated: Generated,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Recommend 10 items per click with online matrix factorisation and Swing-style
    /// similarity; live hit-rate@10 beside popularity.
    Recommendation {
        #[command(flatten)]
        generated: Generated,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Alert on 3 payments over 500 within a minute, per account.
    Fraud {
        /// Payments to generate.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Generator seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// The classic Flink ML flow: JSON sale events, a feature function, linear regression
    /// with 5-fold cross-validation and L-BFGS (L2 0.1), predictions to CSV files.
    MlFlow {
        /// Directory for the events and the predictions.
        #[arg(long, default_value = "riffle-ml-flow")]
        dir: PathBuf,
        /// Sales to generate.
        #[arg(long, default_value_t = 5_000)]
        events: u64,
        /// Generator seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Join generated orders with their payments per 10 s window.
    WindowJoin {
        /// Orders to generate.
        #[arg(long, default_value_t = 100_000)]
        orders: u64,
        /// Generator seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[command(flatten)]
        out: OutputArgs,
    },
}

fn nexmark(events: u64, seed: u64) -> NexmarkConfig {
    NexmarkConfig {
        seed,
        max_events: Some(events),
        ..NexmarkConfig::default()
    }
}

fn run(cli: Cli) -> Result<()> {
    let config = cli.cluster.config()?;
    let started = Instant::now();
    let report = match cli.command {
        Command::Demo {
            events,
            rate,
            seed,
            out,
        } => {
            let mut scenario = riffle_examples::monitoring::Monitoring::new(events, seed);
            scenario.rate = rate;
            eprintln!(
                "riffle demo: fraud monitoring over {events} generated payments on {} worker(s).\n\
                 Per region, an online classifier (logistic regression, reset by ADWIN on drift) \
                 and an anomaly detector (half-space trees) score each payment, then learn it.\n\
                 Fraud is 1% of payments; at payment {} the fraud pattern and normal spending \
                 change. Each line: the last period's precision (P) and recall (R) of each \
                 flagger against the injected truth, and in all.",
                config.total_workers(),
                scenario.drift_at,
            );
            let output = out.output();
            progress::execute(&config, Some(events), move |env| {
                riffle_examples::monitoring::build(env, &scenario, &output)
            })?
        }
        Command::Bench(args) => return bench::run(&config, &args),
        Command::Sql(args) => return sql::run(&args, &config),
        Command::Ml(command) => return ml::run(command, &config),
        Command::Run(example) => run_example(&config, example)?,
    };
    summarize(&report, started.elapsed());
    Ok(())
}

fn run_example(config: &ExecutionConfig, example: Example) -> Result<JobReport> {
    match example {
        Example::Wordcount { input, out } => {
            let output = out.output();
            progress::execute(config, None, move |env| {
                riffle_examples::wordcount::build(env, &input, &output)
            })
        }
        Example::SocketWordcount {
            address,
            window_secs,
            out,
        } => {
            let output = out.output();
            let window = Duration::from_secs(window_secs.max(1));
            progress::execute(config, None, move |env| {
                riffle_examples::socket_wordcount::build(env, &address, window, &output)
            })
        }
        Example::HotItems { generated: g, out } => {
            let cfg = nexmark(g.events, g.seed);
            let output = out.output();
            progress::execute(config, Some(g.events), move |env| {
                riffle_examples::hot_items::build(env, &cfg, g.rate, &output)
            })
        }
        Example::ClickCounts { generated: g, out } => {
            let output = out.output();
            progress::execute(config, Some(g.events), move |env| {
                riffle_examples::click_counts::build(env, g.events, g.rate, g.seed, &output)
            })
        }
        Example::Analytics { generated: g, out } => {
            let output = out.output();
            progress::execute(config, Some(g.events), move |env| {
                riffle_examples::analytics::build(env, g.events, g.seed, g.rate, &output)
            })
        }
        Example::Recommendation { generated: g, out } => {
            let output = out.output();
            progress::execute(config, Some(g.events), move |env| {
                riffle_examples::recommendation::build(env, g.events, g.seed, g.rate, &output)
            })
        }
        Example::Fraud { events, seed, out } => {
            let output = out.output();
            progress::execute(config, Some(events), move |env| {
                riffle_examples::fraud::build(env, events, seed, &output)
            })
        }
        Example::MlFlow { dir, events, seed } => {
            let (card, report) = riffle_examples::ml_flow::run(config, &dir, events, seed)?;
            let metrics: Vec<String> = card
                .holdout_metrics
                .iter()
                .map(|(k, v)| format!("{k} = {v:.4}"))
                .collect();
            println!(
                "{} on {} sales ({}); predictions in {}",
                card.algorithm,
                card.trained_rows,
                metrics.join(", "),
                dir.join("predictions").display()
            );
            Ok(report)
        }
        Example::WindowJoin { orders, seed, out } => {
            let output = out.output();
            progress::execute(config, Some(2 * orders), move |env| {
                riffle_examples::window_join::build(env, orders, seed, &output)
            })
        }
    }
}

/// Prints what the job read and did, to standard error so results stay clean on stdout.
fn summarize(report: &JobReport, elapsed: Duration) {
    let records: u64 = report
        .counters
        .iter()
        .filter(|(k, _)| k.starts_with("source.") && k.ends_with(".records"))
        .map(|(_, v)| v)
        .sum();
    let rate = records as f64 / elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "finished in {:.2} s: {records} records read ({:.2} M records/s)",
        elapsed.as_secs_f64(),
        rate / 1e6
    );
    for (name, value) in &report.counters {
        if *value > 0 && !name.ends_with(".records") {
            eprintln!("  {name}: {value}");
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
