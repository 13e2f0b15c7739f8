-- A first Riffle SQL script: a bounded table from the generator, a computed column, and an
-- aggregate. Run it with:  riffle sql -f examples/sql/hello.sql
CREATE TABLE orders (
    order_id BIGINT NOT NULL,
    customer INT,
    amount DOUBLE,
    big AS amount > 900,
    PRIMARY KEY (order_id) NOT ENFORCED
) WITH (
    'connector' = 'datagen',
    'seed' = '42',
    'fields.order_id.kind' = 'sequence',
    'fields.order_id.start' = '1',
    'fields.order_id.end' = '10000',
    'fields.customer.min' = '1',
    'fields.customer.max' = '5',
    'fields.amount.min' = '1',
    'fields.amount.max' = '1000'
);

SELECT customer,
       COUNT(*) AS orders,
       ROUND(SUM(amount), 2) AS total,
       SUM(CASE WHEN big THEN 1 ELSE 0 END) AS big_orders
FROM orders
GROUP BY customer
ORDER BY customer;
