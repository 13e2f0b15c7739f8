-- The classic Flink ML flow in Riffle SQL, over Kafka: house sales arrive as JSON messages on
-- the topic 'sales', a feature UDF prepares them, CREATE MODEL trains a linear regression
-- (5-fold cross-validation, L-BFGS with L2 0.1) on what the topic holds, and the predictions
-- go to the topic 'predictions' as JSON.
--
--   riffle sql -f examples/sql/ml_flow_kafka.sql
--
-- It needs a broker at localhost:9092 (change 'properties.bootstrap.servers' below), and
-- fills 'sales' itself first from the generator; in production a service would. The model
-- goes to the catalog 'riffle-models/' in the working directory. (examples/sql/ml_flow.sql
-- is the same flow on JSON files, with no broker.)

DROP MODEL IF EXISTS house_prices_kafka;

-- 1. 5,000 house sales, published to 'sales'. Price = 3000 per m² + 10000 per room + 40000
--    downtown + noise.
CREATE TABLE generated (
    id BIGINT, sqft DOUBLE, rooms INT, district INT, noise DOUBLE
) WITH (
    'connector' = 'datagen', 'seed' = '7',
    'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '5000',
    'fields.sqft.min' = '30', 'fields.sqft.max' = '250',
    'fields.rooms.min' = '1', 'fields.rooms.max' = '6',
    'fields.district.min' = '0', 'fields.district.max' = '2',
    'fields.noise.min' = '-5000', 'fields.noise.max' = '5000'
);

-- 2. The JSON event stream: the topic read from its start to the offsets it has when the
--    query starts (a bounded read, as a model trains on a bounded table).
CREATE TABLE sales (id BIGINT, sqft DOUBLE, rooms INT, district STRING, price DOUBLE)
WITH (
    'connector' = 'kafka', 'topic' = 'sales',
    'properties.bootstrap.servers' = 'localhost:9092', 'format' = 'json',
    'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'
);

INSERT INTO sales
SELECT id, sqft, rooms,
       CASE district WHEN 0 THEN 'downtown' WHEN 1 THEN 'suburb' ELSE 'rural' END,
       3000 * sqft + 10000 * rooms + CASE district WHEN 0 THEN 40000 ELSE 0 END + noise
FROM generated;

-- 3. Features through a UDF: ONE_HOT_ENCODE is the example function registered from Rust.
CREATE VIEW features AS
SELECT id, sqft, CAST(rooms AS DOUBLE) AS rooms,
       ONE_HOT_ENCODE(district, 'downtown,suburb,rural')[1] AS downtown,
       price
FROM sales;

-- 4. The model: 5-fold cross-validation, then the final fit on all rows.
CREATE MODEL house_prices_kafka WITH (
    'algorithm' = 'linear-regression', 'label' = 'price',
    'features' = 'sqft, rooms, downtown',
    'solver' = 'lbfgs', 'reg_param' = '0.1', 'cv.folds' = '5'
) AS SELECT * FROM features;

-- 5. Predictions to the topic 'predictions', and the model's metrics.
CREATE TABLE predictions (id BIGINT, price DOUBLE, prediction DOUBLE)
WITH (
    'connector' = 'kafka', 'topic' = 'predictions',
    'properties.bootstrap.servers' = 'localhost:9092', 'format' = 'json'
);

INSERT INTO predictions
SELECT id, price, prediction FROM ML_PREDICT(TABLE features, MODEL house_prices_kafka);

SELECT metric, ROUND(value, 4) AS value FROM ML_EVALUATE(TABLE features, MODEL house_prices_kafka);
