-- Real-time recommendation in SQL: 100,000 generated clicks of 300 users, whose ten taste
-- groups each prefer their own fifty items. Three recommenders learn from the click stream
-- while every click's user is served a top 10 by each (their newest versions, hot-swapped):
-- an online matrix factorisation, a Swing-style item-item similarity, and the most clicked
-- items (the baseline). A list is a hit when it holds the item the user clicks; the live
-- summary gives each model's hit-rate@10 per 100 s of event time.
--
--   riffle sql -f examples/sql/recommendation.sql
--
-- Models go to the catalog 'riffle-models/' in the working directory.

DROP MODEL IF EXISTS mf;
DROP MODEL IF EXISTS similar;
DROP MODEL IF EXISTS popular;

-- Seeded random draws, one click every 10 ms of event time.
CREATE TABLE draws (
    id BIGINT, r1 DOUBLE, r2 DOUBLE, r3 DOUBLE,
    ts AS to_timestamp_millis(id * 10),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (
    'connector' = 'datagen', 'rows-per-second' = '20000', 'number-of-rows' = '100000',
    'seed' = '11',
    'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '100000',
    'fields.r1.min' = '0', 'fields.r1.max' = '1', 'fields.r2.min' = '0', 'fields.r2.max' = '1',
    'fields.r3.min' = '0', 'fields.r3.max' = '1'
);

-- A random user; 80% of the time an item of the user's group (skewed towards the group's
-- first items), otherwise any of the 500 items (skewed the same way).
CREATE VIEW clicks AS
SELECT ts, user_id,
    CAST(CASE WHEN r2 < 0.8 THEN MOD(user_id, 10) * 50 + FLOOR(50 * r3 * r3)
              ELSE FLOOR(500 * r3 * r3) END AS BIGINT) AS item_id
FROM (SELECT ts, r2, r3, CAST(FLOOR(r1 * 300) AS BIGINT) AS user_id FROM draws);

CREATE TABLE live (
    window_end TIMESTAMP(3), clicks BIGINT,
    mf_hit_rate DOUBLE, swing_hit_rate DOUBLE, popular_hit_rate DOUBLE
) WITH ('connector' = 'print');

SET 'execution.runtime-mode' = 'streaming';

-- One job: three recommenders learn from the clicks and publish a version every 100 ms;
-- the insert serves each click's user from the newest versions and summarises each window.
EXECUTE STATEMENT SET
BEGIN
CREATE MODEL mf WITH (
    'algorithm' = 'online-mf', 'factors' = '16', 'seed' = '7',
    'model.publish-interval' = '100 ms')
AS SELECT user_id, item_id FROM clicks;
CREATE MODEL similar WITH (
    'algorithm' = 'swing', 'history' = '5', 'alpha' = '5',
    'model.publish-interval' = '100 ms')
AS SELECT user_id, item_id FROM clicks;
CREATE MODEL popular WITH ('algorithm' = 'popularity', 'model.publish-interval' = '100 ms')
AS SELECT user_id, item_id FROM clicks;
INSERT INTO live
SELECT window_end, COUNT(*),
    ROUND(AVG(CASE WHEN ARRAY_HAS(ML_RECOMMEND('mf', user_id, 10), item_id) THEN 1.0 ELSE 0.0 END), 3),
    ROUND(AVG(CASE WHEN ARRAY_HAS(ML_RECOMMEND('similar', user_id, 10), item_id) THEN 1.0 ELSE 0.0 END), 3),
    ROUND(AVG(CASE WHEN ARRAY_HAS(ML_RECOMMEND('popular', user_id, 10), item_id) THEN 1.0 ELSE 0.0 END), 3)
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '100' SECOND))
GROUP BY window_start, window_end;
END;
