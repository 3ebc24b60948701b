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
	python := pythonWith(t, "psycopg", "python3-psycopg")
	script := filepath.Join("testdata", "psycopg", "transcript.py")
	matchesRealFK(t, "psycopg", func(addr, db string) *exec.Cmd {
		return exec.Command(python, script, pgcluster.DSN(addr, cluster.User, cluster.Password, db))
	}, "prepared insert 6: count 1", "prepared insert 7: error 23503", "executemany with a violation: error 23503",
		"pipeline with a violation: error 23503", "binary copy with a violation: error 23503", "cancel: error 57014",
		"after the cancel: still usable", "py_channel=hello")
}

// SQLAlchemy's ORM on psycopg2, which binds parameters on the client and
// sends every statement as a simple query: the unit of work's ordering of
// inserts before and deletes after (setting children's keys to NULL
// first), multi-row VALUES for a flush of many objects, savepoints, bulk
// inserts, Core statements (testdata/sqlalchemy/transcript.py).
func TestSQLAlchemyMatchesRealForeignKey(t *testing.T) {
	python := pythonWith(t, "sqlalchemy, psycopg2", "python3-sqlalchemy and python3-psycopg2")
	script := filepath.Join("testdata", "sqlalchemy", "transcript.py")
	matchesRealFK(t, "sqlalchemy", func(addr, db string) *exec.Cmd {
		return exec.Command(python, script, pgcluster.DSN(addr, cluster.User, cluster.Password, db))
	}, "order of no user: error 23503", "batch with a violation: error 23503", "new user with an order: committed",
		"savepoint: error 23503", "delete of a user through the ORM: committed", "bulk insert mappings: error 23503")
}

// pythonWith finds a Python that imports modules (an import list):
// Debian's, where the packages debs install them, or the first on the PATH.
func pythonWith(t *testing.T, modules, debs string) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", "import "+modules).Run() == nil {
			return p
		}
	}
	t.Fatalf("no python3 that imports %s: run ./test.sh, which installs Debian's %s", modules, debs)
	return ""
}

// node-postgres: the unnamed statement for every parameterized query, a
// named statement parsed once, simple queries for strings without
// parameters (several statements in one), COPY through pg-copy-streams,
// a pool of concurrent connections, NOTIFY (testdata/node/transcript.js).
func TestNodePostgresMatchesRealForeignKey(t *testing.T) {
	node := nodeTools(t)
	script := filepath.Join("testdata", "node", "transcript.js")
	matchesRealFK(t, "node-postgres", func(addr, db string) *exec.Cmd {
		return exec.Command(node, script, pgcluster.DSN(addr, cluster.User, cluster.Password, db))
	}, "unnamed insert 1: error 23503", "named insert 4: error 23503", "named insert 5: INSERT 1",
		"multi-statement string with a violation: error 23503", "copy in with a violation: error 23503",
		"pool: 400 INSERT 1", "node_channel=hello", "statement timeout: error 57014")
}

// nodeTools finds Node.js and checks that the transcript's packages are
// installed next to it.
func nodeTools(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("no node: run ./test.sh, which installs Debian's nodejs and npm, or install Node.js")
	}
	for _, pkg := range []string{"pg", "pg-copy-streams"} {
		if _, err := os.Stat(filepath.Join("testdata", "node", "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("no %s in testdata/node/node_modules: run ./test.sh, which runs npm ci there", pkg)
		}
	}
	return node
}

// Active Record on the pg gem (libpq): every statement prepared by name
// and reused, saves wrapped in transactions, nested transactions as
// savepoints, insert_all and upsert_all, update_all, dependent: :nullify
// before a destroy (testdata/activerecord/transcript.rb).
func TestActiveRecordMatchesRealForeignKey(t *testing.T) {
	ruby, err := exec.LookPath("ruby")
	if err == nil {
		err = exec.Command(ruby, "-e", `require "active_record"; require "pg"`).Run()
	}
	if err != nil {
		t.Fatalf("no ruby that loads active_record and pg (%v): run ./test.sh, which installs Debian's ruby-activerecord and ruby-pg", err)
	}
	script := filepath.Join("testdata", "activerecord", "transcript.rb")
	matchesRealFK(t, "activerecord", func(addr, db string) *exec.Cmd {
		return exec.Command(ruby, script, pgcluster.DSN(addr, cluster.User, cluster.Password, db))
	}, "create 4: ActiveRecord::InvalidForeignKey 23503", "create 5: 105", "insert_all with a violation: ActiveRecord::InvalidForeignKey",
		"nested transaction: ActiveRecord::InvalidForeignKey", "destroy of a referenced user: destroyed",
		"delete of a referenced user: ActiveRecord::InvalidForeignKey 23503 update or delete")
}

// PHP's PDO on pgsql (libpq): statements prepared on the server
// (pdo_stmt_N) and deallocated when their object goes, emulated prepares
// sent as simple queries, COPY from an array (testdata/php/transcript.php).
func TestPDOMatchesRealForeignKey(t *testing.T) {
	php, err := exec.LookPath("php")
	if err == nil {
		err = exec.Command(php, "-r", `exit(extension_loaded("pdo_pgsql") ? 0 : 1);`).Run()
	}
	if err != nil {
		t.Fatalf("no php with pdo_pgsql (%v): run ./test.sh, which installs Debian's php-cli and php-pgsql", err)
	}
	script := filepath.Join("testdata", "php", "transcript.php")
	matchesRealFK(t, "pdo", func(addr, db string) *exec.Cmd {
		return exec.Command(php, script, pgcluster.DSN(addr, cluster.User, cluster.Password, db))
	}, "prepared insert 4: error 23503", "prepared insert 5: count 1", "emulated insert of no user: error 23503",
		"transaction: error 23503 ; commit true", "copy with a violation: error 23503", "Key (id)=(1) is still referenced")
}
