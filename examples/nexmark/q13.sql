-- Nexmark q13, bounded side input join: each bid joined with the row of a side file whose
-- key is its auction modulo 10,000 (a lookup join AS OF the bid's processing time; the file
-- is read whole first, as Flink's filesystem lookup loads it before the first lookup).
-- Run from the repository root (the side file's path is relative):
--   riffle sql -f examples/nexmark/q13.sql -w 2
CREATE TABLE bid (
    auction BIGINT,
    bidder BIGINT,
    price BIGINT,
    channel STRING,
    url STRING,
    dateTime TIMESTAMP(3),
    extra STRING,
    WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'table' = 'bid',
    'events.num' = '10000000'
);

CREATE TABLE side_input (key BIGINT, `value` STRING) WITH (
    'connector' = 'filesystem',
    'path' = 'examples/nexmark/data/side_input.csv',
    'format' = 'csv'
);

CREATE TABLE nexmark_q13 (auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3),
    `value` STRING) WITH ('connector' = 'blackhole');

SET 'execution.runtime-mode' = 'streaming';

INSERT INTO nexmark_q13
SELECT B.auction, B.bidder, B.price, B.dateTime, S.`value`
FROM (SELECT *, PROCTIME() AS p_time FROM bid) B
JOIN side_input FOR SYSTEM_TIME AS OF B.p_time AS S
ON MOD(B.auction, 10000) = S.key;
