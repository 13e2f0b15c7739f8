#!/usr/bin/env python3
"""PyFlink reference runs for two of Riffle's Nexmark benchmarks (see README.md).

Prints one markdown table row on stdout:

    | job | P | rows | seconds | M events/s | M events/s per worker |

where `seconds` is the wall time of the INSERT's execute_sql(...).wait(): planning (warm: the
query is explained once before), job submission, local mini-cluster start, the run and teardown.
JVM start-up is excluded. Job `source` (datagen -> blackhole, every field) is the generator
alone, for splitting the cost.
A detail line goes to stderr: Flink's own net job runtime and the script's total wall time
(including the JVM start-up).
"""
import argparse
import sys
import time

T0 = time.perf_counter()

from pyflink.table import EnvironmentSettings, TableEnvironment  # noqa: E402

# Same first event time and event-time rate as Riffle's NexmarkConfig::default():
# 100,000 events per second of event time, starting at 1_700_000_000_000 ms.
BIDS_DDL = """
CREATE TEMPORARY TABLE bids (
    seq_no    BIGINT,
    auction   BIGINT,
    bidder    BIGINT,
    price     BIGINT,
    channel   STRING,
    url       STRING,
    extra     AS CAST('' AS STRING),
    date_time AS TO_TIMESTAMP_LTZ(1700000000000 + seq_no / 100, 3){watermark}
) WITH (
    'connector' = 'datagen',
    'number-of-rows' = '{rows}',
    'rows-per-second' = '1000000000000',
    'fields.seq_no.kind' = 'sequence',
    'fields.seq_no.start' = '0',
    'fields.seq_no.end' = '{last}',
    'fields.auction.min' = '1000',
    'fields.auction.max' = '1999',
    'fields.bidder.min' = '1000',
    'fields.bidder.max' = '1999',
    'fields.price.min' = '1',
    'fields.price.max' = '100000000',
    'fields.channel.length' = '8',
    'fields.url.length' = '46'
)
"""

WATERMARK = ",\n    WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND"

SINKS = {
    "stateless": """
CREATE TEMPORARY TABLE sink (auction BIGINT, price BIGINT)
WITH ('connector' = 'blackhole')
""",
    "window": """
CREATE TEMPORARY TABLE sink (auction BIGINT, window_start TIMESTAMP(3), num BIGINT)
WITH ('connector' = 'blackhole')
""",
    "source": """
CREATE TEMPORARY TABLE sink (
    auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
    date_time TIMESTAMP_LTZ(3), extra STRING
) WITH ('connector' = 'blackhole')
""",
}

QUERIES = {
    "stateless": """
INSERT INTO sink
SELECT auction, price * 908 / 1000
FROM bids
WHERE price > 0
""",
    "window": """
INSERT INTO sink
SELECT auction, window_start, COUNT(*)
FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
GROUP BY auction, window_start, window_end
""",
    "source": """
INSERT INTO sink
SELECT auction, bidder, price, channel, url, date_time, extra
FROM bids
""",
}

NAMES = {
    "stateless": "pyflink datagen bids filter/project -> blackhole",
    "window": "pyflink datagen bids keyed tumbling count (10 s)",
    "source": "pyflink datagen bids alone -> blackhole",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--parallelism", type=int, default=1)
    ap.add_argument("--job", choices=sorted(QUERIES), required=True)
    ap.add_argument("--explain", action="store_true", help="print the plan to stderr too")
    args = ap.parse_args()

    settings = EnvironmentSettings.in_streaming_mode()
    t_env = TableEnvironment.create(settings)
    conf = t_env.get_config()
    conf.set("parallelism.default", str(args.parallelism))
    conf.set("pipeline.name", f"riffle-ref-{args.job}-p{args.parallelism}")

    watermark = WATERMARK if args.job == "window" else ""
    t_env.execute_sql(
        BIDS_DDL.format(rows=args.rows, last=args.rows - 1, watermark=watermark)
    )
    t_env.execute_sql(SINKS[args.job])
    # Plan the INSERT once, untimed: a cold planner (Calcite, code generation) takes several
    # seconds on this VM, a fixed cost like the JVM start-up rather than throughput.
    plan = t_env.explain_sql(QUERIES[args.job])
    if args.explain:
        print(plan, file=sys.stderr)

    start = time.perf_counter()
    result = t_env.execute_sql(QUERIES[args.job])
    result.wait()
    seconds = time.perf_counter() - start

    net_ms = None
    try:
        job_result = result.get_job_client().get_job_execution_result().result()
        net_ms = job_result.get_net_runtime()
    except Exception as e:  # detail only; the timed figure above does not depend on it
        print(f"(net runtime unavailable: {e})", file=sys.stderr)

    rate = args.rows / seconds / 1e6
    print(
        f"| {NAMES[args.job]} | {args.parallelism} | {args.rows:,} | {seconds:.2f} "
        f"| {rate:.2f} | {rate / args.parallelism:.2f} |",
        flush=True,
    )
    net = f"{net_ms / 1000:.2f} s" if net_ms is not None else "n/a"
    print(
        f"# {args.job} P={args.parallelism}: execute().wait() {seconds:.2f} s, "
        f"Flink net runtime {net}, total wall incl. JVM start {time.perf_counter() - T0:.2f} s",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    main()
