//! Generated records: seeded, reproducible whatever the number of workers, at a rate or as
//! fast as possible, bounded or not.

use std::sync::Arc;
use std::time::Instant;

use riffle_core::Result;
use riffle_runtime::{
    Data, DataStream, Env, EventTime, SourceReader, SourceStatus, WatermarkStrategy,
};

/// Rows generated per poll.
const BLOCK: u64 = 4096;

/// A small counter-based random generator: the numbers for row `n` depend only on the seed
/// and `n`, so any worker can generate any row and the data never depends on parallelism.
///
/// ```
/// use riffle_connectors::RowRng;
/// let mut a = RowRng::new(7, 42);
/// let mut b = RowRng::new(7, 42);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let x = a.range_i64(10, 20);
/// assert!((10..=20).contains(&x));
/// ```
#[derive(Debug, Clone)]
pub struct RowRng {
    state: u64,
}

impl RowRng {
    /// The generator for row `row` of a stream seeded with `seed`.
    pub fn new(seed: u64, row: u64) -> Self {
        let mut rng = RowRng {
            state: seed ^ row.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        };
        rng.next_u64();
        rng
    }

    /// The next 64 random bits (splitmix64).
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `[min, max]`.
    pub fn range_i64(&mut self, min: i64, max: i64) -> i64 {
        if max <= min {
            return min;
        }
        let span = (max as i128 - min as i128 + 1) as u128;
        (min as i128 + (self.next_u64() as u128 % span) as i128) as i64
    }

    /// A uniform integer in `[0, n)` (`0` when `n` is 0), by a multiply and shift rather
    /// than a division.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// A uniform float in `[min, max)`.
    pub fn range_f64(&mut self, min: f64, max: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        min + unit * (max - min)
    }

    /// A normal draw with `mean` and standard deviation `std` (Box-Muller).
    ///
    /// ```
    /// let mut rng = riffle_connectors::RowRng::new(3, 0);
    /// let mean = (0..10_000).map(|_| rng.normal(5.0, 2.0)).sum::<f64>() / 10_000.0;
    /// assert!((mean - 5.0).abs() < 0.1);
    /// ```
    pub fn normal(&mut self, mean: f64, std: f64) -> f64 {
        // 1 - u is in (0, 1], so its logarithm is finite.
        let u = 1.0 - self.range_f64(0.0, 1.0);
        let v = self.range_f64(0.0, 1.0);
        mean + std * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.range_f64(0.0, 1.0) < p
    }

    /// A random lowercase ASCII string of `len` characters.
    ///
    /// ```
    /// let s = riffle_connectors::RowRng::new(1, 2).string(21);
    /// assert_eq!(s.len(), 21);
    /// assert!(s.bytes().all(|b| b.is_ascii_lowercase()));
    /// ```
    pub fn string(&mut self, len: usize) -> String {
        const LOW_BYTES: u64 = 0x00ff_00ff_00ff_00ff;
        let mut bytes = vec![0u8; len];
        for chunk in bytes.chunks_mut(8) {
            // Eight letters from one draw: each byte `b` of the number picks letter
            // `b · 26 / 256`, computed for four bytes at a time in 16-bit lanes.
            let draw = self.next_u64();
            let even = (((draw & LOW_BYTES) * 26) >> 8) & LOW_BYTES;
            let odd = ((((draw >> 8) & LOW_BYTES) * 26) >> 8) & LOW_BYTES;
            let letters = (even | (odd << 8)) + u64::from_le_bytes([b'a'; 8]);
            chunk.copy_from_slice(&letters.to_le_bytes()[..chunk.len()]);
        }
        // ASCII letters only, so always valid UTF-8.
        String::from_utf8(bytes).unwrap_or_default()
    }
}

type RowFn<T> = Arc<dyn Fn(u64, &mut RowRng) -> T + Send + Sync>;

/// Flink's `datagen` connector for typed streams: row `n` is `make(n, rng)` with a generator
/// seeded for that row; rows are spread over workers in blocks.
///
/// ```
/// use riffle_connectors::DataGen;
/// use riffle_runtime::{execute, Collector, ExecutionConfig, WatermarkStrategy};
/// let out = Collector::new();
/// let sink = out.clone();
/// execute(&ExecutionConfig::threads(2), move |env| {
///     DataGen::new(1, |n, rng| (n, rng.range_i64(0, 9)))
///         .rows(10_000)
///         .stream(env, "gen", WatermarkStrategy::none())
///         .collect_into(&sink);
///     Ok(())
/// })
/// .unwrap();
/// assert_eq!(out.values().len(), 10_000);
/// ```
pub struct DataGen<T> {
    seed: u64,
    rows: Option<u64>,
    rows_per_second: Option<u64>,
    make: RowFn<T>,
}

impl<T> Clone for DataGen<T> {
    fn clone(&self) -> Self {
        DataGen {
            seed: self.seed,
            rows: self.rows,
            rows_per_second: self.rows_per_second,
            make: Arc::clone(&self.make),
        }
    }
}

impl<T: Data> DataGen<T> {
    /// An unbounded generator of `make(row_number, rng)`, seeded with `seed`.
    pub fn new(seed: u64, make: impl Fn(u64, &mut RowRng) -> T + Send + Sync + 'static) -> Self {
        DataGen {
            seed,
            rows: None,
            rows_per_second: None,
            make: Arc::new(make),
        }
    }

    /// Stops after `rows` rows in all (Flink's `number-of-rows`).
    pub fn rows(mut self, rows: u64) -> Self {
        self.rows = Some(rows);
        self
    }

    /// Emits at most `rate` rows per second in all (Flink's `rows-per-second`).
    pub fn rows_per_second(mut self, rate: u64) -> Self {
        self.rows_per_second = Some(rate.max(1));
        self
    }

    /// This worker's reader.
    pub fn reader(&self, env: &Env<'_>) -> impl SourceReader<T> {
        let workers = env.workers() as u64;
        let reader = DataGenReader {
            gen: self.clone(),
            next_block: env.worker_index() as u64,
            workers,
        };
        Throttle::new(reader, self.rows_per_second.map(|r| (r / workers).max(1)))
    }

    /// A stream of this worker's rows.
    pub fn stream<'s>(
        &self,
        env: &Env<'s>,
        name: &str,
        strategy: WatermarkStrategy<T>,
    ) -> DataStream<'s, T> {
        env.source(name, self.reader(env), strategy)
    }
}

struct DataGenReader<T> {
    gen: DataGen<T>,
    next_block: u64,
    workers: u64,
}

impl<T: Data> SourceReader<T> for DataGenReader<T> {
    fn poll(&mut self, out: &mut Vec<T>) -> Result<SourceStatus> {
        let start = self.next_block.saturating_mul(BLOCK);
        let end = match self.gen.rows {
            Some(rows) => rows.min(start.saturating_add(BLOCK)),
            None => start.saturating_add(BLOCK),
        };
        if start >= end {
            return Ok(SourceStatus::Finished);
        }
        out.extend((start..end).map(|n| (self.gen.make)(n, &mut RowRng::new(self.gen.seed, n))));
        self.next_block += self.workers;
        Ok(SourceStatus::Ready)
    }

    fn position(&self) -> Option<Vec<u8>> {
        Some(self.next_block.to_le_bytes().to_vec())
    }

    fn seek(&mut self, position: &[u8]) -> Result<()> {
        self.next_block = riffle_runtime::decode_u64(position)?;
        Ok(())
    }
}

/// Limits a reader to `rate` records per second (a token bucket over wall-clock time).
pub struct Throttle<R> {
    inner: R,
    rate: Option<u64>,
    started: Instant,
    emitted: u64,
}

impl<R> Throttle<R> {
    /// `inner`, at most `rate` records per second (`None`: no limit).
    pub fn new(inner: R, rate: Option<u64>) -> Self {
        Throttle {
            inner,
            rate,
            started: Instant::now(),
            emitted: 0,
        }
    }
}

impl<T, R: SourceReader<T>> SourceReader<T> for Throttle<R> {
    fn poll(&mut self, out: &mut Vec<T>) -> Result<SourceStatus> {
        if let Some(rate) = self.rate {
            let allowed = (self.started.elapsed().as_secs_f64() * rate as f64) as u64;
            if self.emitted >= allowed {
                return Ok(SourceStatus::Idle);
            }
        }
        let before = out.len();
        let status = self.inner.poll(out)?;
        self.emitted += (out.len() - before) as u64;
        Ok(status)
    }

    fn batch_watermark(&self) -> Option<EventTime> {
        self.inner.batch_watermark()
    }

    fn position(&self) -> Option<Vec<u8>> {
        self.inner.position()
    }

    fn seek(&mut self, position: &[u8]) -> Result<()> {
        self.inner.seek(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_text_uses_every_letter_about_equally() {
        let mut rng = RowRng::new(3, 4);
        let mut counts = [0u32; 26];
        for _ in 0..1_000 {
            for b in rng.string(52).bytes() {
                counts[(b - b'a') as usize] += 1;
            }
        }
        // 52,000 letters: 2,000 each on average; 256 is not a multiple of 26, so some
        // letters come from 10 of the 256 byte values and some from 9 (±5%).
        for (letter, n) in counts.iter().enumerate() {
            assert!((1_750..2_250).contains(n), "letter {letter}: {n}");
        }
    }
}
