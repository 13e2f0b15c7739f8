//! Riffle's sources and sinks (connectors are added in the following commits).
