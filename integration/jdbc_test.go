package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// jdbcJar is where Debian's libpostgresql-jdbc-java puts pgjdbc;
// SOFTFK_JDBC_JAR names another.
const jdbcJar = "/usr/share/java/postgresql.jar"

// A Java application sees through softfk what it sees with a real FOREIGN
// KEY: pgjdbc's own use of the protocol (named statements after five
// executions, batches under one Sync, multi-statement strings split into
// several Executes, RETURNING appended for generated keys, savepoints,
// the CopyManager, cancels for query timeouts) included. The program is
// testdata/jdbc/JdbcTranscript.java.
func TestJDBCMatchesRealForeignKey(t *testing.T) {
	javac, java, jar := jdbcTools(t)
	classes := t.TempDir()
	if out, err := exec.Command(javac, "-cp", jar, "-d", classes, filepath.Join("testdata", "jdbc", "JdbcTranscript.java")).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	p := startProxy(t, configFor(t, "relationships:\n"+usersOrdersFK.yaml("public")))
	run := func(addr string, constraint bool) string {
		db := usersOrdersDatabase(t, constraint)
		url := fmt.Sprintf("jdbc:postgresql://%s/%s", addr, db)
		out, err := exec.Command(java, "-cp", classes+string(os.PathListSeparator)+jar, "JdbcTranscript", url, cluster.User, cluster.Password).CombinedOutput()
		if err != nil {
			t.Fatalf("java: %v\n%s", err, out)
		}
		return string(out)
	}
	direct, proxied := run(cluster.Addr(), true), run(p.Addr, false)
	if direct != proxied {
		t.Fatalf("pgjdbc sees something else through softfk\n--- real FK\n%s\n--- softfk\n%s", direct, proxied)
	}
	for _, want := range []string{"prepared insert 6: count 1", "prepared insert 7: error 23503", "batch with a violation: batch counts", "error 23503",
		"copy in with a violation: error 23503", "query timeout: error 57014", "after the timeout: still usable", "jdbc_channel=hello"} {
		if !strings.Contains(proxied, want) {
			t.Errorf("pgjdbc transcript lacks %q:\n%s", want, proxied)
		}
	}
}

// jdbcTools finds the Java compiler, the JVM and pgjdbc, which ./test.sh
// installs when they are missing.
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
