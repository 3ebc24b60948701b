// transcript.js runs what a Node.js application sends through
// node-postgres (pg) and pg-copy-streams against users(id, email) and
// orders(id, user_id, note), orders.user_id referencing users.id, and
// prints what the application sees, one line per step: row counts, rows,
// and for an error its SQLSTATE, message, detail, table and constraint.
// The Go test runs it directly against a real foreign key and through
// softfk, and compares the two transcripts.
//
// Argument: a connection URL (postgres://user:password@host:port/db).
'use strict';

const { Client, Pool } = require('pg');
const { from: copyFrom, to: copyTo } = require('pg-copy-streams');
const { pipeline } = require('stream/promises');
const { Readable, Writable } = require('stream');
const { stepper } = require('./steps');

function describe(e) {
  if (e.code === undefined) {
    return 'exception ' + e.message;
  }
  return `error ${e.code} ${e.message} | ${e.detail} | ${e.schema}.${e.table} ${e.constraint}`;
}

const step = stepper(describe);

function rows(result) {
  return result.rows.map((r) => Object.values(r).join(',')).join(' ');
}

function count(result) {
  return `${result.command} ${result.rowCount}`;
}

async function copyIn(client, sql, text) {
  const stream = client.query(copyFrom(sql));
  await pipeline(Readable.from([text]), stream);
  return `copy ${stream.rowCount}`;
}

async function copyOut(client, sql) {
  const chunks = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  await pipeline(client.query(copyTo(sql)), sink);
  return Buffer.concat(chunks).toString().trim().split('\n').join(' ');
}

async function main() {
  const url = process.argv[2];
  const client = new Client({ connectionString: url });
  await client.connect();
  const insert = 'INSERT INTO orders (id, user_id) VALUES ($1, $2)';

  // Parameters make pg use the extended protocol with the unnamed
  // statement; a name makes it parse once and bind the named statement
  // each time after.
  for (let i = 0; i < 6; i++) {
    const key = i % 3 === 1 ? 90 + i : 1 + (i % 3);
    await step(`unnamed insert ${i}`, async () => count(await client.query(insert, [100 + i, key])));
  }
  for (let i = 0; i < 6; i++) {
    const key = i % 3 === 1 ? 80 + i : 1 + (i % 3);
    await step(`named insert ${i}`, async () =>
      count(await client.query({ name: 'ins', text: insert, values: [110 + i, key] })));
  }
  await step('string key', async () => count(await client.query(insert, [120, '2'])));
  await step('string key of no user', async () => count(await client.query(insert, [121, '77'])));
  await step('null key', async () => count(await client.query(insert, [122, null])));
  await step('returning', async () =>
    rows(await client.query(insert + ' RETURNING id, user_id', [123, 3])));
  await step('returning in array row mode', async () => {
    const r = await client.query({ text: insert + ' RETURNING id, user_id', values: [124, 1], rowMode: 'array' });
    return r.rows.map((row) => row.join(',')).join(' ');
  });
  await step('returning with a violation', async () =>
    rows(await client.query(insert + ' RETURNING id, user_id', [125, 55])));
  await step('multi-row insert with a violation', async () =>
    count(await client.query('INSERT INTO orders (id, user_id) VALUES ($1, 1), ($2, $3), ($4, 2)', [130, 131, 56, 132])));

  // Without parameters pg sends a simple Query: several statements in
  // one string come back as one result each.
  await step('simple query', async () => count(await client.query("INSERT INTO orders VALUES (140, 1, 'x')")));
  await step('multi-statement string', async () => {
    const results = await client.query("INSERT INTO orders VALUES (141, 2); INSERT INTO orders VALUES (142, 3); SELECT count(*) AS n FROM orders WHERE id >= 140");
    return results.map((r) => (r.command === 'SELECT' ? rows(r) : count(r))).join(' ; ');
  });
  await step('multi-statement string with a violation', async () =>
    count(await client.query('INSERT INTO orders VALUES (143, 1); INSERT INTO orders VALUES (144, 57)')));
  await step('after the string', async () =>
    rows(await client.query('SELECT count(*) AS n FROM orders WHERE id BETWEEN 143 AND 144')));

  // A transaction with a savepoint around a violation.
  await step('begin', async () => count(await client.query('BEGIN')));
  await step('transaction insert', async () => count(await client.query(insert, [200, 1])));
  await step('savepoint', async () => count(await client.query('SAVEPOINT s')));
  await step('transaction violation', async () => count(await client.query(insert, [201, 404])));
  await step('statement in the aborted transaction', async () => rows(await client.query('SELECT 1 AS one')));
  await step('rollback to savepoint', async () => count(await client.query('ROLLBACK TO SAVEPOINT s')));
  await step('update after the savepoint', async () =>
    count(await client.query('UPDATE orders SET user_id = $1 WHERE id = $2', [2, 200])));
  await step('update to no user', async () =>
    count(await client.query('UPDATE orders SET user_id = $1 WHERE id = $2', [58, 200])));
  await step('commit of the failed transaction', async () => count(await client.query('COMMIT')));
  await step('after the commit', async () => rows(await client.query('SELECT count(*) AS n FROM orders WHERE id >= 200')));

  // Writes to the referenced table.
  await step('new parent', async () => count(await client.query("INSERT INTO users VALUES ($1, 'd')", [4])));
  for (const [name, sql, params] of [
    ['delete of a referenced parent', 'DELETE FROM users WHERE id = $1', [1]],
    ['update of a referenced key', 'UPDATE users SET id = $1 WHERE id = $2', [9, 2]],
    ['delete with returning', 'DELETE FROM users WHERE id = $1 RETURNING email', [4]],
  ]) {
    await step(name, async () => {
      await client.query('BEGIN');
      try {
        const r = await client.query(sql, params);
        return r.command === 'DELETE' && r.rows.length ? rows(r) : count(r);
      } finally {
        await client.query('ROLLBACK');
      }
    });
  }

  // COPY through pg-copy-streams.
  await step('copy in', async () => copyIn(client, 'COPY orders (id, user_id) FROM STDIN', '300\t1\n301\t2\n'));
  await step('copy in with a violation', async () =>
    copyIn(client, 'COPY orders (id, user_id) FROM STDIN', '310\t1\n311\t99\n'));
  await step('csv copy in with a violation', async () =>
    copyIn(client, 'COPY orders (id, user_id) FROM STDIN (FORMAT csv)', '320,3\n321,98\n'));
  await step('copy out', async () => copyOut(client, 'COPY (SELECT id, user_id FROM orders WHERE id >= 300 ORDER BY id) TO STDOUT'));

  // Several connections of a pool at once, some writes failing.
  await step('pool', async () => {
    const pool = new Pool({ connectionString: url, max: 4 });
    try {
      const outcomes = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(async (i) => {
        const key = i % 4 === 3 ? 70 + i : 1 + (i % 3);
        try {
          const r = await pool.query(insert, [400 + i, key]);
          return `${400 + i} ${count(r)}`;
        } catch (e) {
          return `${400 + i} error ${e.code} ${e.detail}`;
        }
      }));
      return outcomes.join(' ; ');
    } finally {
      await pool.end();
    }
  });

  // Things that touch no relationship.
  await step('listen and notify', async () => {
    const received = new Promise((resolve) => {
      client.once('notification', (n) => resolve(`${n.channel}=${n.payload}`));
    });
    await client.query('LISTEN node_channel');
    await client.query("NOTIFY node_channel, 'hello'");
    return received;
  });
  await step('statement timeout', async () => {
    await client.query("SET statement_timeout = '200ms'");
    try {
      return rows(await client.query('SELECT pg_sleep(5)'));
    } finally {
      await client.query('RESET statement_timeout');
    }
  });
  await step('after the timeout', async () => rows(await client.query("SELECT 'still usable' AS s")));
  await step('unknown column', async () => rows(await client.query('SELECT nosuch FROM orders')));
  await step('orders', async () => rows(await client.query('SELECT id, user_id, note FROM orders ORDER BY id')));
  await client.end();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
