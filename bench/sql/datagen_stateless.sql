-- Issue 3 reference job (SQL form), the same as bench/pyflink/flink_datagen_bench.py --job stateless.
--   riffle sql -w 1 -f bench/sql/datagen_stateless.sql
CREATE TABLE t (id BIGINT, auction BIGINT, price BIGINT, ts AS to_timestamp_millis(id),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '0', 'number-of-rows' = '10000000',
    'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '9999999',
    'fields.auction.min' = '1000', 'fields.auction.max' = '1100',
    'fields.price.min' = '1', 'fields.price.max' = '1000000');
CREATE TABLE sink (auction BIGINT, p BIGINT) WITH ('connector' = 'blackhole');
SET 'execution.runtime-mode' = 'streaming';
INSERT INTO sink SELECT auction, price * 2 FROM t WHERE MOD(price, 2) = 0;
