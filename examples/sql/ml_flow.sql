-- The classic Flink ML flow in Riffle SQL: a JSON event stream, a feature UDF, a model trained
-- with CREATE MODEL (linear regression, 5-fold cross-validation, L-BFGS with L2 0.1), and its
-- predictions written to a sink. Run it with:  riffle sql -f examples/sql/ml_flow.sql
-- (it writes under /tmp/riffle-ml-flow; delete that directory to run it again from scratch).

SET 'ml.model-catalog' = '/tmp/riffle-ml-flow/models';

-- 1. House sales arrive as JSON lines. Here the generator writes them; in production a
--    service (or Kafka) would. Price = 3000 per m² + 10000 per room + 40000 downtown + noise.
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

CREATE TABLE sales_out (id BIGINT, sqft DOUBLE, rooms INT, district STRING, price DOUBLE)
WITH ('connector' = 'filesystem', 'path' = '/tmp/riffle-ml-flow/sales', 'format' = 'json');

INSERT INTO sales_out
SELECT id, sqft, rooms,
       CASE district WHEN 0 THEN 'downtown' WHEN 1 THEN 'suburb' ELSE 'rural' END,
       3000 * sqft + 10000 * rooms + CASE district WHEN 0 THEN 40000 ELSE 0 END + noise
FROM generated;

-- 2. The JSON event stream, read back.
CREATE TABLE sales (id BIGINT, sqft DOUBLE, rooms INT, district STRING, price DOUBLE)
WITH ('connector' = 'filesystem', 'path' = '/tmp/riffle-ml-flow/sales', 'format' = 'json');

-- 3. Features through a UDF: ONE_HOT_ENCODE is the example function registered from Rust.
CREATE VIEW features AS
SELECT id, sqft, CAST(rooms AS DOUBLE) AS rooms,
       ONE_HOT_ENCODE(district, 'downtown,suburb,rural')[1] AS downtown,
       price
FROM sales;

-- 4. The model: 5-fold cross-validation, then the final fit on all rows.
CREATE MODEL IF NOT EXISTS house_prices WITH (
    'algorithm' = 'linear-regression', 'label' = 'price',
    'features' = 'sqft, rooms, downtown',
    'solver' = 'lbfgs', 'reg_param' = '0.1', 'cv.folds' = '5'
) AS SELECT * FROM features;

DESCRIBE MODEL house_prices;

-- 5. Predictions to a sink (CSV files), and the model's metrics.
CREATE TABLE predictions (id BIGINT, price DOUBLE, prediction DOUBLE)
WITH ('connector' = 'filesystem', 'path' = '/tmp/riffle-ml-flow/predictions', 'format' = 'csv');

INSERT INTO predictions
SELECT id, price, prediction FROM ML_PREDICT(TABLE features, MODEL house_prices);

SELECT metric, ROUND(value, 4) AS value FROM ML_EVALUATE(TABLE features, MODEL house_prices);
