//! Collective operations for data-parallel algorithms: every worker (thread or process) of a
//! job runs the same code on its own share of the data and meets the others at
//! [`Collective::all_gather`] / [`Collective::all_reduce_sum`] points, the way MPI programs
//! and parameter averaging work. Training a model over a bounded source is the user: each
//! worker sums its rows' gradient, the sums are combined, and every worker takes the same
//! step, so they all end with the same model.
//!
//! Built on a small timely dataflow (an input broadcast to all workers and a probe): each
//! collective call is one round, complete when the probe passes it. Values are combined in
//! worker order, so the result does not depend on message timing and is the same on every
//! worker, for any mix of threads and processes.
//!
//! ```
//! use riffle_runtime::{execute_collective, ExecutionConfig};
//! let sums = execute_collective(&ExecutionConfig::threads(3), |c| {
//!     let mut v = vec![c.index() as f64, 1.0];
//!     c.all_reduce_sum(&mut v)?;
//!     Ok(v)
//! }).unwrap();
//! assert_eq!(sums, vec![vec![3.0, 3.0]; 3]);
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use riffle_core::{Result, RiffleError};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::worker::Worker;

use crate::config::ExecutionConfig;

/// What one worker contributes to a round: the round, the worker, and its values or the
/// error that stopped it.
type Contribution = (u64, usize, std::result::Result<Vec<f64>, String>);

/// One worker's handle on the collective operations.
pub struct Collective<'w> {
    worker: &'w mut Worker,
    input: InputHandle<u64, CapacityContainerBuilder<Vec<Contribution>>>,
    probe: ProbeHandle<u64>,
    received: Rc<RefCell<Vec<Contribution>>>,
    round: u64,
}

impl Collective<'_> {
    /// This worker's index, from 0.
    pub fn index(&self) -> usize {
        self.worker.index()
    }

    /// The number of workers in all processes.
    pub fn peers(&self) -> usize {
        self.worker.peers()
    }

    /// Every worker's `values`, in worker order, on every worker. If a worker contributes an
    /// error instead (see [`Collective::all_gather_result`]), every worker gets that error.
    pub fn all_gather(&mut self, values: Vec<f64>) -> Result<Vec<Vec<f64>>> {
        self.all_gather_result(Ok(values))
    }

    /// [`all_gather`](Self::all_gather) of a result: a worker that failed (say, reading its
    /// share of a file) passes its error, and the round fails on every worker with it, so
    /// no worker waits for one that has given up.
    pub fn all_gather_result(
        &mut self,
        values: std::result::Result<Vec<f64>, String>,
    ) -> Result<Vec<Vec<f64>>> {
        let round = self.round;
        self.input.send((round, self.index(), values));
        self.round += 1;
        self.input.advance_to(self.round);
        while self.probe.less_than(&self.round) {
            self.worker
                .step_or_park(Some(std::time::Duration::from_millis(10)));
        }
        let mut mine: Vec<(usize, std::result::Result<Vec<f64>, String>)> =
            Vec::with_capacity(self.peers());
        self.received.borrow_mut().retain(|(r, worker, values)| {
            if *r == round {
                mine.push((*worker, values.clone()));
                false
            } else {
                true
            }
        });
        mine.sort_by_key(|(worker, _)| *worker);
        if mine.len() != self.peers() {
            return Err(RiffleError::Runtime(format!(
                "collective round {round}: heard from {} of {} workers",
                mine.len(),
                self.peers()
            )));
        }
        let mut out = Vec::with_capacity(mine.len());
        for (worker, contribution) in mine {
            match contribution {
                Ok(values) => out.push(values),
                Err(message) => {
                    return Err(RiffleError::Runtime(format!("worker {worker}: {message}")))
                }
            }
        }
        Ok(out)
    }

    /// Replaces `values` by the element-wise sum over all workers (summed in worker order,
    /// so every worker gets bit-identical results). Every worker must pass a vector of the
    /// same length.
    pub fn all_reduce_sum(&mut self, values: &mut [f64]) -> Result<()> {
        let all = self.all_gather(values.to_vec())?;
        values.iter_mut().for_each(|v| *v = 0.0);
        for (worker, contribution) in all.iter().enumerate() {
            if contribution.len() != values.len() {
                return Err(RiffleError::Runtime(format!(
                    "all_reduce_sum: worker {worker} passed {} values, this worker {}",
                    contribution.len(),
                    values.len()
                )));
            }
            values
                .iter_mut()
                .zip(contribution)
                .for_each(|(v, c)| *v += c);
        }
        Ok(())
    }
}

/// Runs `work` on every worker of `config` with a [`Collective`]; returns the results of this
/// process's workers, in worker order. The first error of any of them is the result.
pub fn execute_collective<T, F>(config: &ExecutionConfig, work: F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(&mut Collective<'_>) -> Result<T> + Send + Sync + 'static,
{
    let guards = timely::execute(config.to_timely()?, move |worker| {
        let received = Rc::new(RefCell::new(Vec::new()));
        let sink = Rc::clone(&received);
        let (input, probe) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, stream) = scope.new_input::<Vec<Contribution>>();
            let (probe, _) = stream
                .broadcast()
                .inspect(move |c: &Contribution| sink.borrow_mut().push(c.clone()))
                .probe();
            (input, probe)
        });
        let mut collective = Collective {
            worker,
            input,
            probe,
            received,
            round: 0,
        };
        let result = work(&mut collective);
        (collective.worker.index(), result)
    })
    .map_err(RiffleError::Runtime)?;
    let mut results: Vec<(usize, Result<T>)> = Vec::new();
    for joined in guards.join() {
        results.push(joined.map_err(|e| RiffleError::Runtime(format!("worker failed: {e}")))?);
    }
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
