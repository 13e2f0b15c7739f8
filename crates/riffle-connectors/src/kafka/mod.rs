//! Kafka: a source that shares a topic's partitions out among the job's workers and keeps
//! their offsets in checkpoints ([`KafkaSource`]), and a sink that writes at least once or
//! exactly once through Kafka transactions ([`KafkaSink`]). Both use librdkafka.

pub mod broker;
mod sink;
mod source;
mod watermarks;

use std::time::{Duration, Instant};

use rdkafka::client::{Client, ClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::metadata::Metadata;
use riffle_core::{Result, RiffleError};

pub use sink::{
    committed_ranges, DeliveryGuarantee, KafkaRecord, KafkaSink, KafkaSinkConfig, Partitioner,
    Range, ReportLine,
};
pub use source::{KafkaMessage, KafkaReader, KafkaSource, StartupMode, Topics};
pub use watermarks::{EventTimeReader, PartitionWatermarks};

/// A client configuration: the brokers, then the pass-through properties.
fn client_config(brokers: &str, properties: &[(String, String)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    for (key, value) in properties {
        config.set(key, value);
    }
    config
}

/// A Kafka error as Riffle's, naming the brokers.
fn kafka_error(brokers: &str, what: &str, error: KafkaError) -> RiffleError {
    RiffleError::Network {
        endpoint: format!("Kafka {brokers}"),
        message: format!("{what}: {error}"),
    }
}

/// Metadata of all topics, asked until the brokers answer or `timeout` has passed.
fn wait_for_metadata<C: ClientContext>(
    client: &impl AsClient<C>,
    brokers: &str,
    timeout: Duration,
) -> Result<Metadata> {
    let started = Instant::now();
    loop {
        let step = timeout
            .saturating_sub(started.elapsed())
            .clamp(Duration::from_millis(100), Duration::from_secs(5));
        match client.as_client().fetch_metadata(None, step) {
            Ok(metadata) => return Ok(metadata),
            Err(e) if started.elapsed() >= timeout => {
                return Err(RiffleError::Network {
                    endpoint: format!("Kafka {brokers}"),
                    message: format!(
                        "no broker answered within {:.0} s: {e}",
                        timeout.as_secs_f64()
                    ),
                })
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Consumers and producers alike give their client.
trait AsClient<C: ClientContext> {
    fn as_client(&self) -> &Client<C>;
}

impl<C: ClientContext> AsClient<C> for Client<C> {
    fn as_client(&self) -> &Client<C> {
        self
    }
}

impl<C: rdkafka::consumer::ConsumerContext> AsClient<C> for rdkafka::consumer::BaseConsumer<C> {
    fn as_client(&self) -> &Client<C> {
        self.client()
    }
}
