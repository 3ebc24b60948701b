package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/softfk/softfk/pgcluster"
)

// Drivers other than Go's see through softfk what they see with a real
// FOREIGN KEY, each with its own use of the protocol. The programs are in
// testdata; ./test.sh installs what they need when it is missing.

// jdbcJar is where Debian's libpostgresql-jdbc-java puts pgjdbc;
// SOFTFK_JDBC_JAR names another.
const jdbcJar = "/usr/share/java/postgresql.jar"

// pgjdbc: named statements after five executions, batches under one Sync
// (and rewritten into multi-row inserts), multi-statement strings split
// into several Executes, RETURNING appended for generated keys,
// savepoints, the CopyManager, cancels for query timeouts
// (testdata/jdbc/JdbcTranscript.java).
func TestJDBCMatchesRealForeignKey(t *testing.T) {
	javac, java, jar := jdbcTools(t)
	classes := t.TempDir()
	if out, err := exec.Command(javac, "-cp", jar, "-d", classes, filepath.Join("testdata", "jdbc", "JdbcTranscript.java")).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	matchesRealFK(t, "pgjdbc", func(addr, db string) *exec.Cmd {
		url := fmt.Sprintf("jdbc:postgresql://%s/%s", addr, db)
		return exec.Command(java, "-cp", classes+string(os.PathListSeparator)+jar, "JdbcTranscript", url, cluster.User, cluster.Password)
	}, "prepared insert 6: count 1", "prepared insert 7: error 23503", "batch with a violation: batch counts",
		"copy in with a violation: error 23503", "query timeout: error 57014", "after the timeout: still usable", "jdbc_channel=hello")
}

// jdbcTools finds the Java compiler, the JVM and pgjdbc.
func jdbcTools(t *testing.T) (javac, java, jar string) {
	t.Helper()
	jar = os.Getenv("SOFTFK_JDBC_JAR")
	if jar == "" {
		jar = jdbcJar
	}
	var err error
	if javac, err = exec.LookPath("javac"); err != nil {
		t.Fatalf("no javac: run ./test.sh, which installs Debian's default-jdk-headless, or install a JDK")
	}
	if java, err = exec.LookPath("java"); err != nil {
		t.Fatalf("no java: run ./test.sh, which installs Debian's default-jdk-headless, or install a JDK")
	}
	if _, err := os.Stat(jar); err != nil {
		t.Fatalf("no pgjdbc at %s (SOFTFK_JDBC_JAR): run ./test.sh, which installs Debian's libpostgresql-jdbc-java", jar)
	}
	return javac, java, jar
}

// psycopg 3 over libpq: statements prepared after five executions, binary
// parameters, executemany and explicit pipelines (libpq's pipeline mode),
// nested transactions as savepoints, a server-side cursor, COPY in text
// and binary, NOTIFY, a cancel (testdata/psycopg/transcript.py).
func TestPsycopgMatchesRealForeignKey(t *testing.T) {
	python := interpreter(t, "Debian's python3-psycopg", []string{"-c", "import psycopg"}, "/usr/bin/python3", "python3")
	scriptMatchesRealFK(t, python, "psycopg/transcript.py",
		"prepared insert 6: count 1", "prepared insert 7: error 23503", "executemany with a violation: error 23503",
		"pipeline with a violation: error 23503", "binary copy with a violation: error 23503", "cancel: error 57014",
		"after the cancel: still usable", "py_channel=hello")
}

// asyncpg: the extended protocol in binary only, every query with
// arguments prepared under a name of its own and kept in a statement cache
// (prepared again after DDL), executemany under one Sync, cursors fetching
// from a portal in chunks, binary COPY from records, a timeout's cancel
// (testdata/asyncpg/transcript.py).
func TestAsyncpgMatchesRealForeignKey(t *testing.T) {
	python := interpreter(t, "Debian's python3-asyncpg", []string{"-c", "import asyncpg"}, "/usr/bin/python3", "python3")
	scriptMatchesRealFK(t, python, "asyncpg/transcript.py",
		"cached insert 1: error 23503", "cached insert 3: INSERT 0 1", "executemany with a violation: error 23503",
		"multi-statement string with a violation: error 23503", "transaction with a savepoint: error 23503",
		"delete of an unreferenced parent: DELETE 1", "cached select after the change: 100,1,None,None", "copy records with a violation: error 23503",
		"timeout: timeout", "after the timeout: still usable", "notify: apg_channel=hello")
}

// SQLAlchemy's ORM on psycopg2, which binds parameters on the client and
// sends every statement as a simple query: the unit of work's ordering of
// inserts before and deletes after (setting children's keys to NULL
// first), multi-row VALUES for a flush of many objects, savepoints, bulk
// inserts, Core statements (testdata/sqlalchemy/transcript.py).
func TestSQLAlchemyMatchesRealForeignKey(t *testing.T) {
	python := interpreter(t, "Debian's python3-sqlalchemy and python3-psycopg2", []string{"-c", "import sqlalchemy, psycopg2"}, "/usr/bin/python3", "python3")
	scriptMatchesRealFK(t, python, "sqlalchemy/transcript.py",
		"order of no user: error 23503", "batch with a violation: error 23503", "new user with an order: committed",
		"savepoint: error 23503", "delete of a user through the ORM: committed", "bulk insert mappings: error 23503")
}

// Django's ORM on psycopg2 (client-side binding: every statement a simple
// query): atomic blocks and nested savepoints, bulk_create, queryset
// updates, its collector deleting a user's orders before the user,
// select_for_update (testdata/django/transcript.py).
func TestDjangoMatchesRealForeignKey(t *testing.T) {
	python := interpreter(t, "Debian's python3-django and python3-psycopg2", []string{"-c", "import django, psycopg2"}, "/usr/bin/python3", "python3")
	scriptMatchesRealFK(t, python, "django/transcript.py",
		"create of no user: error 23503", "bulk_create with a violation: error 23503", "nested atomic blocks: error 23503",
		"delete of a user with orders: 2", "queryset delete of a referenced user: error 23503", "select_for_update then create: created")
}

// node-postgres: the unnamed statement for every parameterized query, a
// named statement parsed once, simple queries for strings without
// parameters (several statements in one), COPY through pg-copy-streams,
// a pool of concurrent connections, NOTIFY (testdata/node/transcript.js).
func TestNodePostgresMatchesRealForeignKey(t *testing.T) {
	scriptMatchesRealFK(t, nodeWithPackages(t), "node/transcript.js",
		"unnamed insert 1: error 23503", "named insert 4: error 23503", "named insert 5: INSERT 1",
		"multi-statement string with a violation: error 23503", "copy in with a violation: error 23503",
		"pool: 400 INSERT 1", "node_channel=hello", "statement timeout: error 57014")
}

// Postgres.js: every parameterized query prepared under a name of its
// own, queries sent together pipelined (each with its own Sync), batches
// under one Sync, transactions and savepoints, COPY as a stream, a cancel,
// NOTIFY (testdata/node/postgresjs.mjs).
func TestPostgresJSMatchesRealForeignKey(t *testing.T) {
	scriptMatchesRealFK(t, nodeWithPackages(t), "node/postgresjs.mjs",
		"insert 4: error 23503", "insert 5: INSERT 1", "pipelined queries with a violation: INSERT 1 ; error 23503",
		"batch with a violation: index 1 error 23503", "after the batches: 1", "transaction with a savepoint: error 23503",
		"copy in with a violation: error 23503", "cancel: error 57014", "pjs_channel=hello")
}

// Active Record on the pg gem (libpq): every statement prepared by name
// and reused, saves wrapped in transactions, nested transactions as
// savepoints, insert_all and upsert_all, update_all, dependent: :nullify
// before a destroy (testdata/activerecord/transcript.rb).
func TestActiveRecordMatchesRealForeignKey(t *testing.T) {
	ruby := interpreter(t, "Debian's ruby-activerecord and ruby-pg", []string{"-e", `require "active_record"; require "pg"`}, "ruby")
	scriptMatchesRealFK(t, ruby, "activerecord/transcript.rb",
		"create 4: ActiveRecord::InvalidForeignKey 23503", "create 5: 105", "insert_all with a violation: ActiveRecord::InvalidForeignKey",
		"nested transaction: ActiveRecord::InvalidForeignKey", "destroy of a referenced user: destroyed",
		"delete of a referenced user: ActiveRecord::InvalidForeignKey 23503 update or delete")
}

// PHP's PDO on pgsql (libpq): statements prepared on the server
// (pdo_stmt_N) and deallocated when their object goes, emulated prepares
// sent as simple queries, COPY from an array (testdata/php/transcript.php).
func TestPDOMatchesRealForeignKey(t *testing.T) {
	php := interpreter(t, "Debian's php-cli and php-pgsql", []string{"-r", `exit(extension_loaded("pdo_pgsql") ? 0 : 1);`}, "php")
	scriptMatchesRealFK(t, php, "php/transcript.php",
		"prepared insert 4: error 23503", "prepared insert 5: count 1", "emulated insert of no user: error 23503",
		"transaction: error 23503 ; commit true", "copy with a violation: error 23503", "Key (id)=(1) is still referenced")
}

// nodeWithPackages finds Node.js with the transcripts' packages installed
// in testdata/node (package.json).
func nodeWithPackages(t *testing.T) string {
	t.Helper()
	return interpreter(t, "Debian's nodejs and npm, then runs npm ci in testdata/node",
		[]string{"-e", `for (const p of ["pg", "pg-copy-streams", "postgres"]) require.resolve("./testdata/node/node_modules/" + p + "/package.json")`}, "node")
}

// interpreter finds the first of candidates (a path, or a name looked up
// on the PATH) that runs probe, its arguments for loading what a
// transcript needs, and fails the test when none does, saying what
// ./test.sh installs.
func interpreter(t *testing.T, installs string, probe []string, candidates ...string) string {
	t.Helper()
	var err error
	for _, c := range candidates {
		var path string
		if path, err = exec.LookPath(c); err == nil {
			if err = exec.Command(path, probe...).Run(); err == nil {
				return path
			}
		}
	}
	t.Fatalf("no %s that runs %q (%v): run ./test.sh, which installs %s", candidates[len(candidates)-1], probe, err, installs)
	return ""
}

// scriptMatchesRealFK runs testdata's script with interpreter, given a
// connection URL, as matchesRealFK does.
func scriptMatchesRealFK(t *testing.T, interpreter, script string, wants ...string) {
	t.Helper()
	matchesRealFK(t, script, func(addr, db string) *exec.Cmd {
		return exec.Command(interpreter, filepath.Join("testdata", script), pgcluster.DSN(addr, cluster.User, cluster.Password, db))
	}, wants...)
}
