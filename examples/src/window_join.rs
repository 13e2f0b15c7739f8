//! A window join: orders and payments, generated with a seed, joined on the order id within
//! 10-second tumbling windows.

use std::time::Duration;

use riffle_connectors::DataGen;
use riffle_core::Result;
use riffle_runtime::{Env, WatermarkStrategy, WindowAssigner};
use serde::{Deserialize, Serialize};

use crate::Output;

/// An order placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Order id.
    pub id: u64,
    /// Amount, cents.
    pub cents: u64,
    /// Event time, ms.
    pub at: i64,
}

/// A payment for an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    /// The order paid.
    pub order: u64,
    /// Event time, ms.
    pub at: i64,
}

/// A joined order and payment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Paid {
    /// Order id.
    pub order: u64,
    /// Amount, cents.
    pub cents: u64,
    /// Milliseconds from order to payment.
    pub delay_ms: i64,
}

const START: i64 = 1_700_000_000_000;

/// Order `n`: one every 10 ms.
pub fn order(n: u64, rng: &mut riffle_connectors::RowRng) -> Order {
    Order {
        id: n,
        cents: rng.range_i64(100, 100_000) as u64,
        at: START + n as i64 * 10,
    }
}

/// Payment for order `n`: 0 to 15 s after it; one order in 20 is never paid.
pub fn payment(n: u64, rng: &mut riffle_connectors::RowRng) -> Option<Payment> {
    let delay = rng.range_i64(0, 15_000);
    (!rng.chance(0.05)).then_some(Payment {
        order: n,
        at: START + n as i64 * 10 + delay,
    })
}

/// Builds the job over `orders` generated orders.
pub fn build(env: &mut Env<'_>, orders: u64, seed: u64, output: &Output) -> Result<()> {
    let order_stream = DataGen::new(seed, order).rows(orders).stream(
        env,
        "orders",
        WatermarkStrategy::monotonous(|o: &Order| o.at),
    );
    let payments = DataGen::new(seed ^ 0x5eed, payment)
        .rows(orders)
        .stream(
            env,
            "payments",
            WatermarkStrategy::bounded_out_of_orderness(
                Duration::from_secs(15),
                |p: &Option<Payment>| p.as_ref().map(|p| p.at).unwrap_or(START),
            ),
        )
        .flat_map(|p| p);
    let paid = order_stream
        .window_join(
            payments,
            |o| o.id,
            |p| p.order,
            WindowAssigner::tumbling(Duration::from_secs(10)),
        )
        .apply(|_, o, p| Paid {
            order: o.id,
            cents: o.cents,
            delay_ms: p.at - o.at,
        });
    output.write(paid)
}
