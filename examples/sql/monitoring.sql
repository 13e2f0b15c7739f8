-- Real-time monitoring in SQL: 200,000 generated payments (1% fraud, and the fraudsters
-- change their ways half-way); an online classifier learns from the labelled stream while
-- every payment is scored with its newest version, beside a streaming z-score anomaly
-- detector; precision and recall of both against the injected truth, per 100 s of event time.
--
--   riffle sql -f examples/sql/monitoring.sql
--
-- Models go to the catalog 'riffle-models/' in the working directory.

DROP MODEL IF EXISTS fraud;
DROP MODEL IF EXISTS unusual;

-- Seeded random draws, one payment every 10 ms of event time.
CREATE TABLE draws (
    id BIGINT, r1 DOUBLE, r2 DOUBLE, r3 DOUBLE, r4 DOUBLE, r5 DOUBLE,
    ts AS to_timestamp_millis(id * 10),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (
    'connector' = 'datagen', 'rows-per-second' = '50000', 'number-of-rows' = '200000',
    'seed' = '7',
    'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '200000',
    'fields.r1.min' = '0', 'fields.r1.max' = '1', 'fields.r2.min' = '0', 'fields.r2.max' = '1',
    'fields.r3.min' = '0', 'fields.r3.max' = '1', 'fields.r4.min' = '0', 'fields.r4.max' = '1',
    'fields.r5.min' = '0', 'fields.r5.max' = '1'
);

-- Payments: legitimate ones are small, by day, near home, mostly at known merchants. Fraud
-- (1%) is first large, at night and far away; after payment 100,000 it is small, by day, at
-- a middling distance and always at a new merchant (the drift).
CREATE VIEW payments AS
SELECT id, ts, fraud,
    CASE WHEN fraud = 1 AND id > 100000 THEN 1 + 20 * r1
         WHEN fraud = 1 THEN 200 + 800 * r1
         ELSE 5 + 200 * r1 * r1 END AS amount,
    CASE WHEN fraud = 1 AND id > 100000 THEN 9 + FLOOR(r2 * 10)
         WHEN fraud = 1 THEN FLOOR(r2 * 6)
         ELSE 7 + FLOOR(r2 * 16) END AS hour,
    CASE WHEN fraud = 1 AND id > 100000 THEN 20 + 40 * r3
         WHEN fraud = 1 THEN 50 + 500 * r3
         ELSE 30 * r3 * r3 END AS distance,
    CASE WHEN fraud = 1 AND (id > 100000 OR r4 < 0.8) THEN 1.0
         WHEN r4 < 0.1 THEN 1.0 ELSE 0.0 END AS new_merchant
FROM (SELECT *, CASE WHEN r5 < 0.01 THEN 1 ELSE 0 END AS fraud FROM draws);

CREATE TABLE live (
    window_end TIMESTAMP(3), payments BIGINT, frauds BIGINT,
    model_precision DOUBLE, model_recall DOUBLE,
    detector_precision DOUBLE, detector_recall DOUBLE
) WITH ('connector' = 'print');

SET 'execution.runtime-mode' = 'streaming';

-- One job: two models learn from the stream and publish a version every 100 ms; the insert
-- scores every payment with the newest versions (hot swap) and summarises each window.
EXECUTE STATEMENT SET
BEGIN
CREATE MODEL fraud WITH (
    'algorithm' = 'online-logistic-regression', 'label' = 'fraud',
    'optimizer' = 'adagrad', 'learning_rate' = '0.1', 'standardize' = 'true',
    'model.publish-interval' = '100 ms')
AS SELECT amount, hour, distance, new_merchant, fraud FROM payments;
CREATE MODEL unusual WITH (
    'algorithm' = 'ewma-zscore', 'alpha' = '0.001', 'model.publish-interval' = '100 ms')
AS SELECT amount, distance FROM payments;
INSERT INTO live
SELECT window_end, COUNT(*), SUM(fraud),
    ROUND(CAST(SUM(flag * fraud) AS DOUBLE) / NULLIF(SUM(flag), 0), 3),
    ROUND(CAST(SUM(flag * fraud) AS DOUBLE) / NULLIF(SUM(fraud), 0), 3),
    ROUND(CAST(SUM(odd * fraud) AS DOUBLE) / NULLIF(SUM(odd), 0), 3),
    ROUND(CAST(SUM(odd * fraud) AS DOUBLE) / NULLIF(SUM(fraud), 0), 3)
FROM (
    SELECT window_start, window_end, fraud,
        CAST(ML_PREDICT('fraud', amount, hour, distance, new_merchant) AS INT) AS flag,
        CASE WHEN ML_PREDICT('unusual', amount, distance) > 4 THEN 1 ELSE 0 END AS odd
    FROM TABLE(TUMBLE(TABLE payments, DESCRIPTOR(ts), INTERVAL '100' SECOND)))
GROUP BY window_start, window_end;
END;
