-- Nexmark q10, log to a file system: every bid written as CSV under a directory per day
-- and minute of its time (PARTITIONED BY; the partition columns name the directories and
-- are not repeated in the files). Partitions commit with the file sink's exactly-once
-- commit; Flink's sink.partition-commit.* options (success files, delays) are not read.
--   riffle sql -f examples/nexmark/q10.sql -w 2     (writes /tmp/riffle-nexmark-q10)
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

CREATE TABLE fs_sink (auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3),
    extra STRING, dt STRING, hm STRING)
PARTITIONED BY (dt, hm)
WITH (
    'connector' = 'filesystem',
    'path' = '/tmp/riffle-nexmark-q10',
    'format' = 'csv'
);

SET 'execution.runtime-mode' = 'streaming';

INSERT INTO fs_sink
SELECT auction, bidder, price, dateTime, extra,
    DATE_FORMAT(dateTime, 'yyyy-MM-dd'), DATE_FORMAT(dateTime, 'HH:mm')
FROM bid;
