"""Run what a Python application sends through asyncpg and print what it sees.

asyncpg speaks the extended protocol only, in binary: every query with
arguments is prepared under a name of its own (__asyncpg_stmt_N__), described
and kept in a statement cache; executemany sends all its rows under one Sync;
cursors fetch from a portal in chunks; copy_records_to_table sends a binary
COPY; a timeout sends a cancel. Queries without arguments go as simple
queries.

The database holds users(id, email) and orders(id, user_id, note),
orders.user_id referencing users.id. Each step prints one line: row counts,
rows, and for an error its SQLSTATE, message, detail, table and constraint.
The Go test runs this directly against a real foreign key and through
softfk, and compares the two transcripts.

Argument: a postgres:// connection URL.
"""

import asyncio
import sys

import asyncpg


def describe(e):
    return "error %s %s | %s | %s.%s %s" % (
        e.sqlstate, e.message, e.detail, e.schema_name, e.table_name, e.constraint_name)


async def step(name, coro):
    try:
        out = await coro
    except asyncpg.PostgresError as e:
        out = describe(e)
    except asyncio.TimeoutError:
        out = "timeout"
    print("%s: %s" % (name, out), flush=True)


def rows(records):
    return " ".join(",".join(str(v) for v in r) for r in records)


async def main():
    conn = await asyncpg.connect(sys.argv[1])
    insert = "INSERT INTO orders (id, user_id) VALUES ($1, $2)"

    # The same text again and again: prepared once, then run from asyncpg's
    # statement cache.
    for i in range(6):
        key = 90 + i if i % 3 == 1 else 1 + i % 3
        await step("cached insert %d" % i, conn.execute(insert, 100 + i, key))
    await step("returning", fetch(conn, insert + " RETURNING id, user_id", 110, 3))
    await step("returning a missing key", fetch(conn, insert + " RETURNING id", 111, 404))

    # An explicitly prepared statement, run many times.
    stmt = await conn.prepare("INSERT INTO orders (id, user_id, note) VALUES ($1, $2, $3) RETURNING note")
    for i, key in enumerate((1, 55, 2)):
        await step("prepared insert %d" % i, stmt.fetchval(120 + i, key, "n%d" % i))

    # executemany: every row under one Sync, all or nothing.
    await step("executemany with a violation", many(conn, insert, [(200, 1), (201, 2), (202, 77), (203, 3)]))
    await step("executemany of valid rows", many(conn, insert, [(210, 1), (211, 2), (212, None)]))
    await step("after executemany", fetch(conn, "SELECT count(*) FROM orders WHERE id >= $1 AND id < $2", 200, 300))

    # Simple queries: no arguments, several statements in one string.
    await step("multi-statement string with a violation", conn.execute(
        "INSERT INTO orders VALUES (300, 1); INSERT INTO orders VALUES (301, 66); INSERT INTO orders VALUES (302, 2)"))
    await step("multi-statement string", conn.execute(
        "INSERT INTO orders VALUES (310, 1); UPDATE orders SET user_id = 3 WHERE id = 310"))

    # Transactions, nested ones as savepoints, and a cursor in one.
    await step("transaction with a savepoint", transaction(conn))
    await step("after the transaction", fetch(conn, "SELECT id, user_id FROM orders WHERE id >= $1 AND id < $2 ORDER BY id", 400, 500))

    # Parent-side writes, rolled back when they succeed.
    await step("delete of a referenced parent", rolled_back(conn, "DELETE FROM users WHERE id = $1", 1))
    await step("update of a referenced key", rolled_back(conn, "UPDATE users SET id = $1 WHERE id = $2", 9, 2))
    await step("new parent", conn.execute("INSERT INTO users VALUES ($1, $2)", 4, "d"))
    await step("delete of an unreferenced parent", rolled_back(conn, "DELETE FROM users WHERE id = $1", 4))
    await step("update of a child's key", conn.execute("UPDATE orders SET user_id = $1 WHERE id = $2", 88, 100))

    # The statement cache after the table changes: asyncpg prepares again.
    await step("cached select", fetch(conn, "SELECT * FROM orders WHERE id = $1", 100))
    await step("add a column", conn.execute("ALTER TABLE orders ADD COLUMN extra int"))
    await step("cached select after the change", fetch(conn, "SELECT * FROM orders WHERE id = $1", 100))
    await step("cached insert after the change", conn.execute(insert, 130, 99))

    # COPY in binary, from records, and out.
    await step("copy records", conn.copy_records_to_table("orders", records=[(500, 1), (501, 2)], columns=["id", "user_id"]))
    await step("copy records with a violation", conn.copy_records_to_table(
        "orders", records=[(510, 1), (511, 98)], columns=["id", "user_id"]))
    await step("copy out", copy_out(conn))

    # Things that touch no relationship.
    await step("notify", notify(conn))
    await step("timeout", conn.execute("SELECT pg_sleep(10)", timeout=0.5))
    await step("after the timeout", conn.fetchval("SELECT 'still usable'"))
    await step("orders", fetch(conn, "SELECT id, user_id, note FROM orders ORDER BY id"))
    await conn.close()


async def fetch(conn, sql, *args):
    return rows(await conn.fetch(sql, *args))


async def many(conn, sql, records):
    await conn.executemany(sql, records)
    return "done"


async def transaction(conn):
    out = []
    async with conn.transaction():
        await conn.execute("INSERT INTO orders VALUES ($1, $2)", 400, 1)
        try:
            async with conn.transaction():
                await conn.execute("INSERT INTO orders VALUES ($1, $2)", 401, 404)
        except asyncpg.PostgresError as e:
            out.append(describe(e))
        await conn.execute("UPDATE orders SET user_id = $1 WHERE id = $2", 2, 400)
        await conn.execute("INSERT INTO orders VALUES ($1, $2)", 402, 3)
        ids = [r["id"] async for r in conn.cursor("SELECT id FROM orders ORDER BY id", prefetch=2)]
        out.append("cursor %d rows, first %d" % (len(ids), ids[0]))
    return " ; ".join(out)


async def rolled_back(conn, sql, *args):
    tr = conn.transaction()
    await tr.start()
    try:
        return await conn.execute(sql, *args)
    finally:
        await tr.rollback()


async def copy_out(conn):
    lines = []

    async def sink(chunk):
        lines.append(bytes(chunk).decode())
    await conn.copy_from_query("SELECT id, user_id FROM orders WHERE id >= $1 ORDER BY id", 500, output=sink)
    return "".join(lines).replace("\n", " ").strip()


async def notify(conn):
    received = asyncio.get_running_loop().create_future()
    await conn.add_listener("apg_channel", lambda c, pid, channel, payload: received.set_result("%s=%s" % (channel, payload)))
    await conn.execute("NOTIFY apg_channel, 'hello'")
    return await asyncio.wait_for(received, 5)


if __name__ == "__main__":
    asyncio.run(main())
