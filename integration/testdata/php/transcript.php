<?php
// transcript.php runs what a PHP application sends through PDO's pgsql
// driver (server-side prepared statements, deallocated when the statement
// object goes; emulated prepares, which send the values inline as simple
// queries; COPY from an array) against users(id, email) and orders(id,
// user_id, note), orders.user_id referencing users.id, and prints what the
// application sees, one line per step: row counts, rows, and for an error
// its SQLSTATE and message (PDO's message carries the DETAIL). The Go test
// runs it directly against a real foreign key and through softfk, and
// compares the two transcripts.
//
// Argument: a connection URL (postgres://user:password@host:port/db).

$url = parse_url($argv[1]);
$dsn = sprintf('pgsql:host=%s;port=%d;dbname=%s;sslmode=disable', $url['host'], $url['port'], ltrim($url['path'], '/'));
$pdo = new PDO($dsn, $url['user'], $url['pass'] ?? null, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);

function step(string $name, callable $fn): void
{
    try {
        $out = $fn();
    } catch (PDOException $e) {
        $out = 'error ' . $e->errorInfo[0] . ' ' . str_replace("\n", ' / ', $e->getMessage());
    }
    echo "$name: $out\n";
}

function rows(PDOStatement $s): string
{
    return implode(' ', array_map(fn ($r) => implode(',', $r), $s->fetchAll(PDO::FETCH_NUM)));
}

// One statement prepared on the server and executed again and again.
$insert = $pdo->prepare('INSERT INTO orders (id, user_id) VALUES (?, ?)');
for ($i = 0; $i < 6; $i++) {
    $key = $i % 3 == 1 ? 90 + $i : 1 + $i % 3;
    step("prepared insert $i", function () use ($insert, $i, $key) {
        $insert->execute([100 + $i, $key]);
        return 'count ' . $insert->rowCount();
    });
}
step('typed parameters', function () use ($pdo) {
    $s = $pdo->prepare('INSERT INTO orders (id, user_id, note) VALUES (:id, :user, :note)');
    $s->bindValue(':id', 110, PDO::PARAM_INT);
    $s->bindValue(':user', 77, PDO::PARAM_INT);
    $s->bindValue(':note', null, PDO::PARAM_NULL);
    $s->execute();
    return 'count ' . $s->rowCount();
});
// The statement object goes (PDO deallocates it) and the same text is prepared again.
unset($insert);
step('prepared again', function () use ($pdo) {
    $s = $pdo->prepare('INSERT INTO orders (id, user_id) VALUES (?, ?)');
    $s->execute([111, 2]);
    return 'count ' . $s->rowCount();
});
step('returning', function () use ($pdo) {
    $s = $pdo->prepare('INSERT INTO orders (id, user_id) VALUES (?, ?), (?, ?) RETURNING id');
    $s->execute([112, 3, 113, 1]);
    return rows($s);
});

// Emulated prepares: PDO quotes the values into the text itself.
$pdo->setAttribute(PDO::ATTR_EMULATE_PREPARES, true);
step('emulated insert', function () use ($pdo) {
    $s = $pdo->prepare('INSERT INTO orders (id, user_id, note) VALUES (?, ?, ?)');
    $s->execute([120, 1, "it's"]);
    return 'count ' . $s->rowCount();
});
step('emulated insert of no user', function () use ($pdo) {
    $s = $pdo->prepare('INSERT INTO orders (id, user_id) VALUES (?, ?)');
    $s->execute([121, 78]);
    return 'count ' . $s->rowCount();
});
$pdo->setAttribute(PDO::ATTR_EMULATE_PREPARES, false);
step('exec', fn () => 'count ' . $pdo->exec('UPDATE orders SET user_id = 79 WHERE id = 100'));

// A transaction with a savepoint around a violation.
step('transaction', function () use ($pdo) {
    $out = [];
    $pdo->beginTransaction();
    $pdo->exec('INSERT INTO orders VALUES (200, 1)');
    $pdo->exec('SAVEPOINT s');
    try {
        $pdo->exec('INSERT INTO orders VALUES (201, 404)');
    } catch (PDOException $e) {
        $out[] = 'error ' . $e->errorInfo[0];
        $pdo->exec('ROLLBACK TO SAVEPOINT s');
    }
    $pdo->exec('UPDATE orders SET user_id = 2 WHERE id = 200');
    $out[] = 'commit ' . var_export($pdo->commit(), true);
    return implode(' ; ', $out);
});
step('failed transaction', function () use ($pdo) {
    $pdo->beginTransaction();
    try {
        $pdo->exec('INSERT INTO orders VALUES (210, 1)');
        $pdo->exec('INSERT INTO orders VALUES (211, 80)');
        $pdo->commit();
        return 'committed';
    } finally {
        if ($pdo->inTransaction()) {
            $pdo->rollBack();
        }
    }
});

// Writes to the referenced table.
step('delete of a referenced user', function () use ($pdo) {
    $s = $pdo->prepare('DELETE FROM users WHERE id = ?');
    $s->execute([1]);
    return 'count ' . $s->rowCount();
});
step('key update of a referenced user', fn () => 'count ' . $pdo->exec('UPDATE users SET id = 9 WHERE id = 3'));

// COPY from a PHP array.
step('copy', fn () => var_export($pdo->pgsqlCopyFromArray('orders', ["300\t1\t\\N", "301\t2\tx"]), true));
step('copy with a violation', fn () => var_export($pdo->pgsqlCopyFromArray('orders', ["310\t1\t\\N", "311\t81\t\\N"]), true));

step('unknown column', fn () => rows($pdo->query('SELECT nosuch FROM orders')));
step('orders', fn () => rows($pdo->query('SELECT id, user_id, note FROM orders ORDER BY id')));
