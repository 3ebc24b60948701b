// postgresjs.mjs runs what a Node.js application sends through Postgres.js
// (the postgres package) against users(id, email) and orders(id, user_id,
// note), orders.user_id referencing users.id, and prints what the
// application sees, one line per step: row counts, rows, and for an error
// its SQLSTATE, message, detail, table and constraint. Postgres.js
// prepares every parameterized query under a name of its own, pipelines
// queries that are sent together (each with its own Sync), and ends a
// batch with one Sync. The Go test runs it directly against a real foreign
// key and through softfk, and compares the two transcripts.
//
// Argument: a connection URL (postgres://user:password@host:port/db).
import postgres from 'postgres';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import steps from './steps.js';

function describe(e) {
  if (e.code === undefined || e.severity === undefined) {
    return `exception ${e.code ?? e.message}`;
  }
  return `error ${e.code} ${e.message} | ${e.detail} | ${e.schema_name}.${e.table_name} ${e.constraint_name}`;
}

const step = steps.stepper(describe);

const rows = (result) => result.map((r) => Object.values(r).join(',')).join(' ');
const count = (result) => `${result.command} ${result.count}`;

// Each settled query of a group, in order.
async function settled(queries) {
  const results = await Promise.allSettled(queries);
  return results.map((r) => (r.status === 'fulfilled' ? count(r.value) : describe(r.reason))).join(' ; ');
}

const sql = postgres(process.argv[2], { max: 1, onnotice: () => {} });

for (let i = 0; i < 6; i++) {
  const key = i % 3 === 1 ? 90 + i : 1 + (i % 3);
  await step(`insert ${i}`, async () => count(await sql`INSERT INTO orders (id, user_id) VALUES (${100 + i}, ${key})`));
}
await step('insert returning', async () =>
  rows(await sql`INSERT INTO orders (id, user_id) VALUES (${110}, ${2}) RETURNING id, user_id`));
await step('dynamic multi-row insert with a violation', async () =>
  count(await sql`INSERT INTO orders ${sql([{ id: 111, user_id: 1 }, { id: 112, user_id: 77 }, { id: 113, user_id: 3 }])}`));
await step('dynamic multi-row insert', async () =>
  count(await sql`INSERT INTO orders ${sql([{ id: 114, user_id: 1 }, { id: 115, user_id: 3 }])}`));
await step('unsafe with parameters', async () =>
  count(await sql.unsafe('INSERT INTO orders (id, user_id) VALUES ($1, $2)', [116, 78])));
await step('simple multi-statement query with a violation', async () =>
  count(await sql`INSERT INTO orders VALUES (117, 1); INSERT INTO orders VALUES (118, 79)`.simple()));
await step('after the simple query', async () => rows(await sql`SELECT count(*)::int AS n FROM orders WHERE id IN (117, 118)`));

// Queries sent together on the one connection: pipelined, each with its
// own Sync, so each commits or fails on its own.
await step('pipelined queries with a violation', () => settled([
  sql`INSERT INTO orders (id, user_id) VALUES (${200}, ${1})`,
  sql`INSERT INTO orders (id, user_id) VALUES (${201}, ${80})`,
  sql`UPDATE orders SET user_id = ${81} WHERE id = ${100}`,
  sql`INSERT INTO orders (id, user_id) VALUES (${202}, ${2})`,
]));
// A batch: one Sync, one implicit transaction.
await step('batch with a violation', async () => {
  try {
    await sql.batch([
      sql`INSERT INTO orders (id, user_id) VALUES (${210}, ${1})`,
      sql`INSERT INTO orders (id, user_id) VALUES (${211}, ${82})`,
      sql`INSERT INTO orders (id, user_id) VALUES (${212}, ${2})`,
    ]);
    return 'committed';
  } catch (e) {
    return `index ${e.index} ${describe(e)}`;
  }
});
await step('batch of valid rows', async () => (await sql.batch([
  sql`INSERT INTO orders (id, user_id) VALUES (${220}, ${1})`,
  sql`UPDATE orders SET user_id = ${3} WHERE id = ${220}`,
])).map(count).join(' ; '));
await step('after the batches', async () => rows(await sql`SELECT count(*)::int AS n FROM orders WHERE id BETWEEN 210 AND 229`));

// Transactions and savepoints.
await step('transaction with a savepoint', async () => {
  const out = [];
  await sql.begin(async (tx) => {
    await tx`INSERT INTO orders (id, user_id) VALUES (${300}, ${1})`;
    await tx.savepoint((sp) => sp`INSERT INTO orders (id, user_id) VALUES (${301}, ${404})`).catch((e) => out.push(describe(e)));
    await tx`UPDATE orders SET user_id = ${2} WHERE id = ${300}`;
  });
  out.push('committed');
  return out.join(' ; ');
});
await step('transaction with a violation', () => sql.begin(async (tx) => {
  await tx`INSERT INTO orders (id, user_id) VALUES (${310}, ${1})`;
  await tx`INSERT INTO orders (id, user_id) VALUES (${311}, ${83})`;
  return 'committed';
}));
await step('after the transactions', async () => rows(await sql`SELECT id, user_id FROM orders WHERE id BETWEEN 300 AND 319 ORDER BY id`));

// Writes to the referenced table.
await step('delete of a referenced user', async () => count(await sql`DELETE FROM users WHERE id = ${1}`));
await step('key update of a referenced user', async () => count(await sql`UPDATE users SET id = ${9} WHERE id = ${3}`));
await step('new user, deleted', async () => {
  await sql`INSERT INTO users VALUES (${5}, ${'e'})`;
  return rows(await sql`DELETE FROM users WHERE id = ${5} RETURNING email`);
});

// COPY as a stream.
async function copyIn(text) {
  const stream = await sql`COPY orders (id, user_id) FROM STDIN`.writable();
  await pipeline(Readable.from([text]), stream);
  return `copy ${stream.count}`;
}
await step('copy in', () => copyIn('400\t1\n401\t2\n'));
await step('copy in with a violation', () => copyIn('410\t1\n411\t84\n'));

// Things that touch no relationship.
// The cancel is sent once the sleep is seen running (from a second
// connection), so that it cannot arrive before the query or after it.
await step('cancel', async () => {
  const watcher = postgres(process.argv[2], { max: 1 });
  try {
    const query = sql`SELECT pg_sleep(10) AS cancel_me`.execute();
    while ((await watcher`SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%cancel_me%' AND datname = current_database() AND pid <> pg_backend_pid()`).length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    query.cancel();
    return rows(await query);
  } finally {
    await watcher.end();
  }
});
await step('after the cancel', async () => rows(await sql`SELECT 'still usable' AS s`));
await step('listen and notify', async () => {
  let resolve;
  const received = new Promise((r) => { resolve = r; });
  const { unlisten } = await sql.listen('pjs_channel', (payload) => resolve(`pjs_channel=${payload}`));
  await sql.notify('pjs_channel', 'hello');
  const out = await received;
  await unlisten();
  return out;
});
await step('orders', async () => rows(await sql`SELECT id, user_id, note FROM orders ORDER BY id`));
await sql.end();
