-- Nexmark q6, average selling price by seller: per seller, the average closing price of
-- the auction and the 10 before it, in order of closing time. The closing price (the
-- highest bid while the auction is open) goes on rising, so the OVER window runs over an
-- updating result: each new highest bid changes the averages of the seller's next 10
-- auctions too (-U old, +U new). Flink refuses this query ("OVER windows over an updating
-- input"); its text orders by B.dateTime, which the GROUP BY does not keep, so this one
-- orders by the auction's expiry.
--   riffle sql -f examples/nexmark/q6.sql -w 2
CREATE TABLE auction (
    id BIGINT,
    itemName STRING,
    description STRING,
    initialBid BIGINT,
    reserve BIGINT,
    dateTime TIMESTAMP(3),
    expires TIMESTAMP(3),
    seller BIGINT,
    category BIGINT,
    extra STRING,
    WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'table' = 'auction',
    'events.num' = '10000000'
);

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

CREATE TABLE nexmark_q6 (seller BIGINT, avg_price DOUBLE) WITH ('connector' = 'blackhole');

SET 'execution.runtime-mode' = 'streaming';

INSERT INTO nexmark_q6
SELECT Q.seller,
       AVG(Q.final) OVER (
           PARTITION BY Q.seller ORDER BY Q.expires ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)
FROM (
    SELECT MAX(B.price) AS final, A.seller, A.expires
    FROM auction A, bid B
    WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
    GROUP BY A.id, A.seller, A.expires
) Q;
