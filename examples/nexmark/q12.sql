-- Nexmark q12, processing-time windows: bids per bidder per 10 s of the wall clock (a
-- TUMBLE over a PROCTIME() column; Flink's query uses the legacy GROUP BY TUMBLE(...)
-- syntax, this is its window TVF form). Which window a bid falls in depends on when it is
-- processed, so the windows differ from run to run; the counts per bidder add up the same.
--   riffle sql -f examples/nexmark/q12.sql -w 2
CREATE TABLE bid (
    auction BIGINT,
    bidder BIGINT,
    price BIGINT,
    channel STRING,
    url STRING,
    dateTime TIMESTAMP(3),
    extra STRING,
    p_time AS PROCTIME(),
    WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'table' = 'bid',
    'events.num' = '10000000'
);

CREATE TABLE nexmark_q12 (bidder BIGINT, bid_count BIGINT, starttime TIMESTAMP(3),
    endtime TIMESTAMP(3)) WITH ('connector' = 'blackhole');

SET 'execution.runtime-mode' = 'streaming';

INSERT INTO nexmark_q12
SELECT bidder, COUNT(*) AS bid_count, window_start AS starttime, window_end AS endtime
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(p_time), INTERVAL '10' SECOND))
GROUP BY bidder, window_start, window_end;
