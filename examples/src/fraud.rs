//! A keyed-state fraud rule: alert when an account makes 3 payments over 500 within one
//! minute. Payments are generated (seeded) with a few injected fraudulent bursts, so the
//! alerts can be checked against the injected truth.

use std::time::Duration;

use riffle_connectors::DataGen;
use riffle_core::Result;
use riffle_runtime::{Context, Env, KeyedProcessFunction, ListState, Timer, WatermarkStrategy};
use serde::{Deserialize, Serialize};

use crate::Output;

/// A card payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    /// The paying account.
    pub account: u32,
    /// Amount in whole currency units.
    pub amount: u32,
    /// Event time, ms.
    pub at: i64,
}

/// An alert: the account and the time of the payment that completed the pattern.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Alert {
    /// The account.
    pub account: u32,
    /// Time of the third large payment, ms.
    pub at: i64,
}

/// Large means above this amount.
pub const LARGE: u32 = 500;
/// The pattern's time span, ms.
pub const WITHIN_MS: i64 = 60_000;
/// Milliseconds between generated payments.
pub const SPACING_MS: i64 = 10;
/// Every this many payments, one account starts a fraudulent burst.
pub const BURST_EVERY: u64 = 50_000;

/// Payment `n` of the generated stream: mostly small random payments from 10,000 accounts
/// (1 in 200 is large), and every [`BURST_EVERY`] rows a burst of 3 large payments, 5 s
/// apart, from one account.
pub fn payment(n: u64, rng: &mut riffle_connectors::RowRng) -> Payment {
    let at = 1_700_000_000_000 + n as i64 * SPACING_MS;
    let phase = n % BURST_EVERY;
    if phase < 3 * 500 && phase.is_multiple_of(500) {
        // The burst's account is outside the normal range, so only the burst can alert.
        let account = 1_000_000 + (n / BURST_EVERY) as u32;
        return Payment {
            account,
            amount: 900,
            at,
        };
    }
    let account = rng.range_i64(0, 9_999) as u32;
    let amount = if rng.chance(0.005) {
        rng.range_i64(501, 2_000) as u32
    } else {
        rng.range_i64(1, 500) as u32
    };
    Payment {
        account,
        amount,
        at,
    }
}

/// The rule: keeps each account's recent large payments in list state, and a timer to
/// forget them a minute later.
pub struct ThreeLargeWithinAMinute;

impl KeyedProcessFunction<u32, Payment> for ThreeLargeWithinAMinute {
    type State = ListState<i64>;
    type Out = Alert;

    fn process_element(&mut self, p: Payment, ctx: &mut Context<'_, u32, ListState<i64>, Alert>) {
        if p.amount <= LARGE {
            return;
        }
        let recent = ctx.state();
        recent.retain(|t| p.at - *t < WITHIN_MS);
        recent.add(p.at);
        if recent.len() >= 3 {
            recent.clear();
            ctx.collect(Alert {
                account: p.account,
                at: p.at,
            });
        }
        ctx.register_event_time_timer(p.at + WITHIN_MS);
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<'_, u32, ListState<i64>, Alert>) {
        ctx.state().retain(|t| timer.time - *t < WITHIN_MS);
        if ctx.state().is_empty() {
            ctx.clear_state();
        }
    }
}

/// Builds the job over `events` generated payments.
pub fn build(env: &mut Env<'_>, events: u64, seed: u64, output: &Output) -> Result<()> {
    let alerts = DataGen::new(seed, payment)
        .rows(events)
        .stream(
            env,
            "payments",
            WatermarkStrategy::bounded_out_of_orderness(Duration::from_secs(1), |p: &Payment| p.at),
        )
        .key_by(|p| p.account)
        .process(ThreeLargeWithinAMinute);
    output.write(alerts)
}
