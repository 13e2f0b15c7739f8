#!/usr/bin/env python3
"""Runs one Flink SQL job on the datagen connector and prints one JSON line.

    python flink_datagen_bench.py --job {stateless,window} --rows N --parallelism P

Source: datagen, N rows, no rate limit: id BIGINT (sequence 0..N-1), auction BIGINT (random
1000..1100), price BIGINT (random 1..1000000), ts AS TO_TIMESTAMP_LTZ(id, 3) (event time
advances 1 ms per row) with a watermark 1 s behind. Sink: blackhole.
  stateless: SELECT auction, price * 2 FROM t WHERE MOD(price, 2) = 0
  window:    COUNT(*) per auction per 10 s TUMBLE window of ts

JSON fields as in flink_sql_bench.py: `seconds` is the wall time of execute_sql(INSERT).wait()
(submission, local mini-cluster start, run, teardown; JVM start-up and planning excluded),
`net_seconds` Flink's net job runtime, `total_seconds` the whole script.
"""
import argparse
import sys
import time

T0 = time.perf_counter()

from pyflink.table import EnvironmentSettings, TableEnvironment  # noqa: E402

from flink_common import report, run_insert  # noqa: E402

SOURCE_DDL = """
CREATE TEMPORARY TABLE t (
    id      BIGINT,
    auction BIGINT,
    price   BIGINT,
    ts AS TO_TIMESTAMP_LTZ(id, 3),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (
    'connector' = 'datagen',
    'number-of-rows' = '{rows}',
    'rows-per-second' = '1000000000',
    'fields.id.kind' = 'sequence',
    'fields.id.start' = '0',
    'fields.id.end' = '{last}',
    'fields.auction.kind' = 'random',
    'fields.auction.min' = '1000',
    'fields.auction.max' = '1100',
    'fields.price.kind' = 'random',
    'fields.price.min' = '1',
    'fields.price.max' = '1000000'
)
"""

SINKS = {
    "stateless": "auction BIGINT, price BIGINT",
    "window": "auction BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), num BIGINT",
}

QUERIES = {
    "stateless": """
SELECT auction, price * 2 FROM t WHERE MOD(price, 2) = 0
""",
    "window": """
SELECT auction, window_start, window_end, COUNT(*) AS num
FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY auction, window_start, window_end
""",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--job", choices=list(QUERIES), required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--parallelism", type=int, default=1)
    ap.add_argument("--explain", action="store_true", help="print the plan to stderr")
    args = ap.parse_args()
    if args.rows < 1:
        sys.exit("flink_datagen_bench.py: --rows must be at least 1")

    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    conf.set("parallelism.default", str(args.parallelism))
    conf.set("pipeline.name", f"riffle-ref-datagen-{args.job}-p{args.parallelism}")
    # Window boundaries are computed in this zone for TIMESTAMP_LTZ; fix it for all machines.
    conf.set("table.local-time-zone", "UTC")

    t_env.execute_sql(SOURCE_DDL.format(rows=args.rows, last=args.rows - 1))
    seconds, net_seconds = run_insert(
        t_env, SINKS[args.job], QUERIES[args.job], args.explain, "flink_datagen_bench.py"
    )
    report(
        T0, {"job": args.job, "parallelism": args.parallelism}, args.rows, seconds, net_seconds
    )


if __name__ == "__main__":
    main()
