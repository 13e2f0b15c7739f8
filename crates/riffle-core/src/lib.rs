//! Shared types of Riffle.
//!
//! Every other crate builds on these: [`RiffleError`] is the error every library function
//! returns, [`BadRecordPolicy`] says what a source does with a record it cannot read, and
//! [`RecordLocation`] names where such a record was (file and line, socket and line, ...),
//! so that an error message points a person at the exact place.

mod error;
mod policy;

pub use error::{Result, RiffleError};
pub use policy::{BadRecordPolicy, RecordLocation};
