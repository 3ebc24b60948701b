"""Run what a Python application sends through psycopg 3 and print what it sees.

The database holds users(id, email) and orders(id, user_id, note),
orders.user_id referencing users.id. Each step prints one line: row counts,
rows, and for an error its SQLSTATE, message, detail, table and constraint.
The Go test runs this directly against a real foreign key and through
softfk, and compares the two transcripts.

Argument: a libpq connection string.
"""

import logging
import sys
import threading
import time

import psycopg


def describe(e):
    d = e.diag
    return "error %s %s | %s | %s.%s %s" % (
        e.sqlstate, d.message_primary, d.message_detail, d.schema_name, d.table_name, d.constraint_name)


def step(name, fn):
    try:
        out = fn()
    except psycopg.Error as e:
        out = describe(e)
    print("%s: %s" % (name, out), flush=True)


def rows(cur):
    return " ".join(",".join(str(v) for v in r) for r in cur.fetchall())


def main():
    # Whether a failing pipeline's error surfaces inside the block or when it
    # ends depends on how fast the results arrive; in the first case psycopg
    # also logs a warning about the aborted pipeline at the end. The step's
    # line is the same either way, so the warning stays out of the transcript.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    conn = psycopg.connect(sys.argv[1], autocommit=True)
    insert = "INSERT INTO orders (id, user_id) VALUES (%s, %s)"

    # Run often enough that psycopg prepares the statement (prepare_threshold, 5).
    for i in range(8):
        key = 90 + i if i % 3 == 1 else 1 + i % 3
        step("prepared insert %d" % i, lambda: "count %d" % conn.execute(insert, (100 + i, key)).rowcount)
    step("binary parameters", lambda: "count %d" % conn.execute(
        "INSERT INTO orders (id, user_id) VALUES (%b, %b)", (110, 77)).rowcount)
    step("binary parameters of a present key", lambda: "count %d" % conn.execute(
        "INSERT INTO orders (id, user_id) VALUES (%b, %b)", (111, 2)).rowcount)
    step("returning", lambda: rows(conn.execute(insert + " RETURNING id, user_id", (112, 3))))

    # executemany runs in libpq's pipeline mode: one Sync for all rows.
    def many(base, keys):
        with conn.cursor() as cur:
            cur.executemany(insert, [(base + i, k) for i, k in enumerate(keys)])
            return "count %d" % cur.rowcount
    step("executemany with a violation", lambda: many(200, [1, 2, 77, 3]))
    step("executemany of valid rows", lambda: many(210, [1, 2, 3]))

    # An explicit pipeline of several statements, one of them failing.
    def pipeline():
        results = []
        with conn.pipeline():
            for k in (1, 66, 2):
                results.append(conn.execute(insert, (300 + k, k)))
        return " ".join("count %d" % r.rowcount for r in results)
    step("pipeline with a violation", pipeline)
    step("after the pipeline", lambda: rows(conn.execute("SELECT count(*) FROM orders WHERE id >= 300")))

    # A transaction with a savepoint around a violation.
    def transaction():
        out = []
        with conn.transaction():
            conn.execute("INSERT INTO orders VALUES (400, 1)")
            try:
                with conn.transaction():
                    conn.execute("INSERT INTO orders VALUES (401, 404)")
            except psycopg.Error as e:
                out.append(describe(e))
            conn.execute("UPDATE orders SET user_id = %s WHERE id = %s", (2, 400))
            with conn.cursor(name="server_side") as cur:
                cur.execute("SELECT id FROM orders ORDER BY id")
                out.append("cursor " + " ".join(str(r[0]) for r in cur.fetchmany(3)))
        return " ; ".join(out)
    step("transaction with a savepoint", transaction)

    def rolled_back(sql, params):
        with conn.transaction(force_rollback=True):
            return "count %d" % conn.execute(sql, params).rowcount
    step("delete of a referenced parent", lambda: rolled_back("DELETE FROM users WHERE id = %s", (1,)))
    step("update of a referenced key", lambda: rolled_back("UPDATE users SET id = %s WHERE id = %s", (9, 2)))

    # COPY, in text and in binary.
    def copy(statement, rows_in, types=None):
        with conn.cursor() as cur:
            with cur.copy(statement) as cp:
                if types:
                    cp.set_types(types)
                for r in rows_in:
                    cp.write_row(r)
            return "count %d" % cur.rowcount
    step("copy", lambda: copy("COPY orders (id, user_id) FROM STDIN", [(500, 1), (501, 2)]))
    step("copy with a violation", lambda: copy("COPY orders (id, user_id) FROM STDIN", [(510, 1), (511, 99)]))
    step("binary copy with a violation", lambda: copy(
        "COPY orders (id, user_id) FROM STDIN (FORMAT BINARY)", [(520, 3), (521, 98)], ["int4", "int4"]))

    # Things that touch no relationship.
    step("notify", lambda: notify(conn))
    step("cancel", lambda: cancel(conn))
    step("after the cancel", lambda: rows(conn.execute("SELECT 'still usable'")))
    step("orders", lambda: rows(conn.execute("SELECT id, user_id, note FROM orders ORDER BY id")))


def notify(conn):
    received = []
    conn.add_notify_handler(lambda n: received.append("%s=%s" % (n.channel, n.payload)))
    conn.execute("LISTEN py_channel")
    conn.execute("NOTIFY py_channel, 'hello'")
    conn.execute("SELECT 1")
    return " ".join(received)


def cancel(conn):
    # The cancel is sent once the sleep is seen running (from a second
    # connection), so that it cannot arrive before the query or after it.
    def cancel_when_running():
        with psycopg.connect(sys.argv[1], autocommit=True) as watcher:
            while not watcher.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE state = 'active'"
                    " AND query LIKE '%cancel_me%' AND datname = current_database() AND pid <> pg_backend_pid()").fetchall():
                time.sleep(0.02)
        conn.cancel()

    thread = threading.Thread(target=cancel_when_running)
    thread.start()
    try:
        conn.execute("SELECT pg_sleep(10) AS cancel_me")
        return "not cancelled"
    finally:
        thread.join()


if __name__ == "__main__":
    main()
