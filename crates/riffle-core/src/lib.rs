//! Shared types of Riffle.
//!
//! Every other crate builds on these: [`RiffleError`] is the error every library function
//! returns, [`BadRecordPolicy`] says what a source does with a record it cannot read, and
//! [`RecordLocation`] names where such a record was (file and line, socket and line, ...),
//! so that an error message points a person at the exact place. [`Batch`] carries an Arrow
//! record batch through a dataflow (serialized as Arrow IPC between processes and into
//! checkpoints), and [`closest`] finds the name a person probably meant.

mod batch;
mod error;
mod names;
mod policy;

pub use batch::Batch;
pub use error::{Result, RiffleError};
pub use names::{closest, did_you_mean};
pub use policy::{BadRecordPolicy, RecordLocation};
