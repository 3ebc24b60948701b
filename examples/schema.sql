-- The example schema of softfk demo and docker-compose.yml: three tables
-- related by soft foreign keys only (see softfk.yaml); no FOREIGN KEY
-- constraint anywhere.
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint, total numeric(10,2) NOT NULL DEFAULT 0);
CREATE INDEX orders_user_id_idx ON orders (user_id);
CREATE TABLE order_items (order_id bigint NOT NULL, line int NOT NULL, sku text NOT NULL, PRIMARY KEY (order_id, line));
INSERT INTO users VALUES (1, 'ada@example.com'), (2, 'grace@example.com');
INSERT INTO orders (user_id, total) VALUES (1, 42.00), (1, 7.50), (2, 19.99);
INSERT INTO order_items VALUES (1, 1, 'book'), (1, 2, 'pen'), (3, 1, 'lamp');
