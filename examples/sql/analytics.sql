-- Real-time analytics with a model, in SQL: sales per store per 10-second window; an online
-- linear regression learns a window's growth over the last one from the growth between the
-- two windows before it (the momentum of the cycle), and forecasts each window as the
-- previous total grown by the predicted rate. Every closed window prints its total, the forecast and
-- the no-change forecast (the previous window again), while the model keeps learning.
--
--   riffle sql -f examples/sql/analytics.sql
--
-- Models go to the catalog 'riffle-models/' in the working directory.

DROP MODEL IF EXISTS forecast;

-- 600,000 sales, one every 2 ms of event time (20 minutes), over 4 stores; sales follow a
-- cycle of 2 minutes, shifted per store.
CREATE TABLE draws (
    id BIGINT, store INT, r DOUBLE,
    ts AS to_timestamp_millis(id * 2),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (
    'connector' = 'datagen', 'rows-per-second' = '200000', 'number-of-rows' = '600000',
    'seed' = '3',
    'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '600000',
    'fields.store.min' = '1', 'fields.store.max' = '4',
    'fields.r.min' = '0', 'fields.r.max' = '1'
);

CREATE VIEW sales AS
SELECT store, ts, (1.0 + 0.6 * SIN(2 * PI() * id / 60000.0 + store)) * (5 + 10 * r) AS amount
FROM draws;

CREATE TABLE live (
    store INT, window_end TIMESTAMP(3), total DOUBLE, forecast DOUBLE, no_change DOUBLE
) WITH ('connector' = 'print');

SET 'execution.runtime-mode' = 'streaming';

-- The model and the insert read the same windowed query, written twice: a view cannot hold
-- a window table function yet.
EXECUTE STATEMENT SET
BEGIN
CREATE MODEL forecast WITH (
    'algorithm' = 'online-linear-regression', 'label' = 'growth',
    'optimizer' = 'adagrad', 'learning_rate' = '0.5', 'standardize' = 'true',
    'model.publish-interval' = '50 ms')
AS SELECT prev1 / prev2 - 1 AS last_growth, total / prev1 - 1 AS growth FROM (
    SELECT total,
        LAG(total, 1) OVER (PARTITION BY store ORDER BY window_time) AS prev1,
        LAG(total, 2) OVER (PARTITION BY store ORDER BY window_time) AS prev2
    FROM (SELECT store, window_start, window_end, window_time, SUM(amount) AS total
          FROM TABLE(TUMBLE(TABLE sales, DESCRIPTOR(ts), INTERVAL '10' SECOND))
          GROUP BY store, window_start, window_end, window_time))
WHERE prev2 IS NOT NULL;
INSERT INTO live
SELECT store, window_end, ROUND(total, 1),
    ROUND(prev1 * (1 + ML_PREDICT('forecast', prev1 / prev2 - 1)), 1), ROUND(prev1, 1)
FROM (
    SELECT store, window_end, total,
        LAG(total, 1) OVER (PARTITION BY store ORDER BY window_time) AS prev1,
        LAG(total, 2) OVER (PARTITION BY store ORDER BY window_time) AS prev2
    FROM (SELECT store, window_start, window_end, window_time, SUM(amount) AS total
          FROM TABLE(TUMBLE(TABLE sales, DESCRIPTOR(ts), INTERVAL '10' SECOND))
          GROUP BY store, window_start, window_end, window_time))
WHERE prev2 IS NOT NULL;
END;
