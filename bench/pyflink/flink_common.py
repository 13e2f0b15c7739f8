"""What both Flink reference scripts share: running the timed INSERT into the blackhole sink
and printing the JSON line (see flink_sql_bench.py for what each field measures)."""
import importlib.metadata
import json
import sys
import time


def run_insert(t_env, sink_columns, query, explain, script):
    """Creates the blackhole sink, plans `INSERT INTO sink <query>` once untimed (a cold
    planner costs seconds, a fixed cost like JVM start-up), then runs it and returns
    (seconds, net_seconds)."""
    t_env.execute_sql(
        f"CREATE TEMPORARY TABLE sink ({sink_columns}) WITH ('connector' = 'blackhole')"
    )
    insert = "INSERT INTO sink" + query
    plan = t_env.explain_sql(insert)
    if explain:
        print(plan, file=sys.stderr)

    start = time.perf_counter()
    result = t_env.execute_sql(insert)
    result.wait()
    seconds = time.perf_counter() - start

    net_seconds = None
    try:
        job_result = result.get_job_client().get_job_execution_result().result()
        net_seconds = round(job_result.get_net_runtime() / 1000, 3)
    except Exception as e:  # detail only
        print(f"{script}: net runtime unavailable: {e}", file=sys.stderr)
    return seconds, net_seconds


def report(t0, fields, rows, seconds, net_seconds):
    """Prints the run's JSON line: `fields` (what ran) and the timings; `t0` is the script's
    start, for total_seconds."""
    line = {
        "engine": "flink",
        "flink_version": importlib.metadata.version("apache-flink"),
        **fields,
        "rows": rows,
        "seconds": round(seconds, 3),
        "net_seconds": net_seconds,
        "total_seconds": round(time.perf_counter() - t0, 3),
        "rows_per_second": round(rows / seconds, 1) if seconds > 0 else None,
    }
    print(json.dumps(line), flush=True)
