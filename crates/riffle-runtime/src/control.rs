//! The control stream every job carries beside its data: each worker broadcasts its
//! process's own failure, so that every process of a cluster stops with a clear error
//! instead of losing its peer's connection, and the highest watermark of its process, so
//! that idle sources catch up with busy sources of any process, not only their own.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Broadcast;

use crate::job::Env;
use crate::stream::Builder;
use crate::time::{EventTime, MIN_WATERMARK};

/// How often a worker reports its process's watermark and checks for a failure to report.
const REPORT_EVERY: Duration = Duration::from_millis(50);

/// What a worker tells every other worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Control {
    /// The process failed with this message.
    Failed { process: usize, message: String },
    /// The highest watermark a source of the process reached.
    Watermark(EventTime),
}

/// Adds the control stream to this worker's dataflow. It runs while the worker has running
/// sources or sinks still writing; a single-process job gains nothing from it and does not
/// get one.
pub(crate) fn install(env: &Env<'_>) {
    if env.job.processes() <= 1 {
        return;
    }
    let job = std::sync::Arc::clone(&env.job);
    let live = std::rc::Rc::clone(&env.live_sources);
    let sinks = std::rc::Rc::clone(&env.live_sinks);
    let process = env.job.process();
    let reports = source::<_, Builder<Control>, _, _>(env.scope, "control", move |cap, info| {
        let activator = env.scope.activator_for(info.address);
        let mut cap = Some(cap);
        let mut reported_failure = false;
        let mut reported_watermark = MIN_WATERMARK;
        move |output| {
            let Some(held) = cap.as_ref() else {
                return;
            };
            let mut session = output.session(held);
            if !reported_failure {
                if let Some(message) = job.own_failure() {
                    session.give((0, Control::Failed { process, message }));
                    reported_failure = true;
                }
            }
            let watermark = job.max_watermark();
            if watermark > reported_watermark {
                session.give((0, Control::Watermark(watermark)));
                reported_watermark = watermark;
            }
            drop(session);
            if live.get() == 0 && sinks.get() == 0 {
                cap = None;
            } else {
                activator.activate_after(REPORT_EVERY);
            }
        }
    });
    let job = std::sync::Arc::clone(&env.job);
    reports
        .broadcast()
        .sink(Pipeline, "control-receive", move |(input, _frontier)| {
            input.for_each(|_, reports| {
                for (_, report) in reports.drain(..) {
                    match report {
                        Control::Failed {
                            process: from,
                            message,
                        } if from != process => job.fail_remote(from, &message),
                        Control::Failed { .. } => {}
                        Control::Watermark(watermark) => job.observe_watermark(watermark),
                    }
                }
            });
        });
}
