#!/usr/bin/env python3
"""Runs one Nexmark-style Flink SQL job over a bids CSV file and prints one JSON line.

    python flink_sql_bench.py --csv PATH --query {q0,q1,q2,q5,q7,groupby} --parallelism N [--rows R]

The job reads the CSV (no header; auction, bidder, price, channel, url, dateTime, extra) with
Flink's filesystem connector in a streaming TableEnvironment (bounded source, so the job ends)
and writes to a blackhole sink. PATH may be a file or a directory of CSV files: Flink reads
one CSV file with one source subtask (CSV files are not split), so to feed N source subtasks
give a directory of N (or more) part files.

JSON fields:
  seconds         wall time of execute_sql(INSERT).wait(): job submission, start of the local
                  mini-cluster, the run and teardown. JVM start-up, table creation and the
                  planning of the query (done once, untimed, by explain_sql before) are excluded.
  net_seconds     Flink's own net job runtime (JobExecutionResult.getNetRuntime), if available.
  total_seconds   the whole script, from Python start (JVM start-up included).
  rows_per_second rows / seconds.
"""
import argparse
import os
import sys
import time

T0 = time.perf_counter()

from pyflink.table import EnvironmentSettings, TableEnvironment  # noqa: E402

from flink_common import report, run_insert  # noqa: E402

# `dateTime` is back-quoted throughout: Flink 2.x's SQL parser rejects it bare (DATETIME is a
# keyword there), unlike Flink 1.x where nexmark-flink's queries use it unquoted.
SOURCE_DDL = """
CREATE TEMPORARY TABLE bid (
    auction  BIGINT,
    bidder   BIGINT,
    price    BIGINT,
    channel  STRING,
    url      STRING,
    `dateTime` TIMESTAMP(3),
    extra    STRING,
    WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND
) WITH (
    'connector' = 'filesystem',
    'path' = '{path}',
    'format' = 'csv'
)
"""

# Sink columns per query (all blackhole). q1's type is the type of 0.908 * BIGINT.
SINKS = {
    "q0": "auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), extra STRING",
    "q1": "auction BIGINT, bidder BIGINT, price DECIMAL(23, 3), `dateTime` TIMESTAMP(3), extra STRING",
    "q2": "auction BIGINT, price BIGINT",
    "q5": "auction BIGINT, num BIGINT",
    "q7": "auction BIGINT, price BIGINT, bidder BIGINT, `dateTime` TIMESTAMP(3), extra STRING",
    "groupby": "auction BIGINT, bids BIGINT, top BIGINT",
}

# The Nexmark queries as in the nexmark-flink repository (window TVF syntax).
QUERIES = {
    "q0": """
SELECT auction, bidder, price, `dateTime`, extra FROM bid
""",
    "q1": """
SELECT auction, bidder, 0.908 * price AS price, `dateTime`, extra FROM bid
""",
    "q2": """
SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0
""",
    "q5": """
SELECT AuctionBids.auction, AuctionBids.num
FROM (
    SELECT auction, COUNT(*) AS num, window_start AS starttime, window_end AS endtime
    FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
    GROUP BY auction, window_start, window_end
) AS AuctionBids
JOIN (
    SELECT MAX(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime
    FROM (
        SELECT COUNT(*) AS num, window_start AS starttime, window_end AS endtime
        FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
        GROUP BY auction, window_start, window_end
    ) AS CountBids
    GROUP BY CountBids.starttime, CountBids.endtime
) AS MaxBids
ON AuctionBids.starttime = MaxBids.starttime
   AND AuctionBids.endtime = MaxBids.endtime
   AND AuctionBids.num >= MaxBids.maxn
""",
    "q7": """
SELECT B.auction, B.price, B.bidder, B.`dateTime`, B.extra
FROM bid B
JOIN (
    SELECT MAX(price) AS maxprice, window_end AS `dateTime`
    FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))
    GROUP BY window_start, window_end
) B1
ON B.price = B1.maxprice
WHERE B.`dateTime` BETWEEN B1.`dateTime` - INTERVAL '10' SECOND AND B1.`dateTime`
""",
    "groupby": """
SELECT auction, COUNT(*) AS bids, MAX(price) AS top FROM bid GROUP BY auction
""",
}


def csv_files(path):
    if os.path.isdir(path):
        return sorted(
            os.path.join(dirpath, name)
            for dirpath, _, names in os.walk(path)
            for name in names
            if not name.startswith((".", "_"))  # Flink skips hidden files too
        )
    return [path]


def count_rows(path):
    rows = 0
    for name in csv_files(path):
        with open(name, "rb") as f:
            last = b"\n"
            while chunk := f.read(1 << 24):
                rows += chunk.count(b"\n")
                last = chunk[-1:]
            if last != b"\n":  # last line without a newline
                rows += 1
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", required=True, help="bids CSV file, or a directory of them")
    ap.add_argument("--query", choices=list(QUERIES), required=True)
    ap.add_argument("--parallelism", type=int, default=1)
    ap.add_argument("--rows", type=int, help="rows in the CSV (counted if not given)")
    ap.add_argument("--explain", action="store_true", help="print the plan to stderr")
    ap.add_argument(
        "--mini-batch",
        action="store_true",
        help="Flink's mini-batch aggregation (1 s or 8192 rows, local-global), which folds "
        "a GROUP BY's rows per batch as Riffle does",
    )
    args = ap.parse_args()

    path = os.path.abspath(args.csv)
    if not os.path.exists(path):
        sys.exit(f"flink_sql_bench.py: no such file or directory: {path}")
    rows = args.rows if args.rows is not None else count_rows(path)

    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    conf.set("parallelism.default", str(args.parallelism))
    conf.set("pipeline.name", f"riffle-ref-{args.query}-p{args.parallelism}")
    if args.mini_batch:
        conf.set("table.exec.mini-batch.enabled", "true")
        conf.set("table.exec.mini-batch.allow-latency", "1 s")
        conf.set("table.exec.mini-batch.size", "8192")

    t_env.execute_sql(SOURCE_DDL.format(path=path.replace("'", "''")))
    seconds, net_seconds = run_insert(
        t_env, SINKS[args.query], QUERIES[args.query], args.explain, "flink_sql_bench.py"
    )
    report(
        T0,
        {"query": args.query, "parallelism": args.parallelism, "mini_batch": args.mini_batch},
        rows,
        seconds,
        net_seconds,
    )


if __name__ == "__main__":
    main()
