-- Bids per auction in hopping windows (10 s every 2 s), the counting half of Nexmark q5,
-- printed for the auctions with more than 40 bids in a window. (The full q5 joins these
-- counts with their per-window maximum; joins in streaming SQL are not there yet.)
--   riffle sql -f examples/nexmark/hot_auctions.sql -w 2
CREATE TABLE bid (
    auction BIGINT,
    price BIGINT,
    dateTime TIMESTAMP(3),
    WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'table' = 'bid',
    'events.num' = '1000000',
    'first-event.rate' = '10000'
);

CREATE TABLE hot (window_end TIMESTAMP(3), auction BIGINT, bids BIGINT)
WITH ('connector' = 'print');

SET 'execution.runtime-mode' = 'streaming';

INSERT INTO hot
SELECT window_end, auction, COUNT(*) AS bids
FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
GROUP BY window_start, window_end, auction
HAVING COUNT(*) > 40;
