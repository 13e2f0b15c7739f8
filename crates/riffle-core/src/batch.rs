//! An Arrow record batch that can travel through a dataflow.

use std::ops::Deref;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A micro-batch of rows in Arrow's columnar form: what SQL and ML stream between operators.
/// Between processes and into checkpoints it is written as an Arrow IPC stream (schema and
/// columns), so nothing is converted row by row.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use riffle_core::Batch;
/// let column = Arc::new(Int64Array::from(vec![1, 2, 3]));
/// let batch = Batch(RecordBatch::try_from_iter([("x", column as _)]).unwrap());
/// assert_eq!(batch.num_rows(), 3);
/// assert_eq!(Batch::from_ipc(&batch.to_ipc().unwrap()).unwrap(), batch);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Batch(pub RecordBatch);

impl Deref for Batch {
    type Target = RecordBatch;
    fn deref(&self) -> &RecordBatch {
        &self.0
    }
}

impl From<RecordBatch> for Batch {
    fn from(batch: RecordBatch) -> Self {
        Batch(batch)
    }
}

impl Batch {
    /// The batch as an Arrow IPC stream.
    pub fn to_ipc(&self) -> Result<Vec<u8>, arrow_schema::ArrowError> {
        let mut bytes = Vec::new();
        let mut writer = StreamWriter::try_new(&mut bytes, &self.0.schema())?;
        writer.write(&self.0)?;
        writer.finish()?;
        drop(writer);
        Ok(bytes)
    }

    /// The batch in an Arrow IPC stream written by [`Batch::to_ipc`].
    pub fn from_ipc(bytes: &[u8]) -> Result<Self, arrow_schema::ArrowError> {
        let mut reader = StreamReader::try_new(bytes, None)?;
        match reader.next() {
            Some(batch) => Ok(Batch(batch?)),
            None => Err(arrow_schema::ArrowError::IpcError(
                "the stream holds no record batch".into(),
            )),
        }
    }
}

impl Serialize for Batch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = self.to_ipc().map_err(S::Error::custom)?;
        serializer.serialize_bytes(&bytes)
    }
}

impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes: Vec<u8> = serde::de::Deserialize::deserialize(deserializer)?;
        Batch::from_ipc(&bytes).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Float64Array, StringArray};

    use super::*;

    #[test]
    fn a_batch_survives_ipc_with_its_schema_and_nulls() {
        let batch = Batch(
            RecordBatch::try_from_iter([
                (
                    "name",
                    Arc::new(StringArray::from(vec![Some("a"), None])) as _,
                ),
                ("score", Arc::new(Float64Array::from(vec![1.5, 2.5])) as _),
            ])
            .unwrap(),
        );
        let back = Batch::from_ipc(&batch.to_ipc().unwrap()).unwrap();
        assert_eq!(back, batch);
        // The codec the runtime uses between processes and for checkpoints.
        let encoded = bincode::serialize(&batch).unwrap();
        assert_eq!(bincode::deserialize::<Batch>(&encoded).unwrap(), batch);
        assert!(Batch::from_ipc(b"not arrow").is_err());
    }
}
