import java.io.StringReader;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/**
 * JdbcTranscript runs what a Java application sends through pgjdbc against
 * users(id, email) and orders(id, user_id, note), orders.user_id
 * referencing users.id,
 * and prints what the application sees, one line per step: update counts,
 * rows, and for an error its SQLSTATE, message, detail, table and
 * constraint. The Go test runs it directly against real foreign keys and
 * through softfk, and compares the two transcripts.
 *
 * Arguments: JDBC URL, user, password.
 */
public class JdbcTranscript {
    interface Step {
        String run() throws Exception;
    }

    static void step(String name, Step s) {
        String out;
        try {
            out = s.run();
        } catch (BatchUpdateException e) {
            SQLException cause = e.getNextException() != null ? e.getNextException() : e;
            out = "batch counts " + Arrays.toString(e.getUpdateCounts()) + " " + describe(cause);
        } catch (SQLException e) {
            out = describe(e);
        } catch (Exception e) {
            out = "exception " + e;
        }
        System.out.println(name + ": " + out);
    }

    static String describe(SQLException e) {
        if (e instanceof PSQLException && ((PSQLException) e).getServerErrorMessage() != null) {
            ServerErrorMessage m = ((PSQLException) e).getServerErrorMessage();
            return "error " + m.getSQLState() + " " + m.getMessage() + " | " + m.getDetail() + " | "
                    + m.getSchema() + "." + m.getTable() + " " + m.getConstraint();
        }
        return "error " + e.getSQLState() + " " + e.getMessage();
    }

    static String rows(ResultSet rs) throws SQLException {
        List<String> out = new ArrayList<>();
        int n = rs.getMetaData().getColumnCount();
        while (rs.next()) {
            List<String> row = new ArrayList<>();
            for (int i = 1; i <= n; i++) {
                row.add(rs.getString(i));
            }
            out.add(String.join(",", row));
        }
        return String.join(" ", out);
    }

    static Connection connect(String url, String user, String password, boolean rewriteBatches) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password);
        props.setProperty("reWriteBatchedInserts", Boolean.toString(rewriteBatches));
        return DriverManager.getConnection(url, props);
    }

    public static void main(String[] args) throws Exception {
        String url = args[0], user = args[1], password = args[2];
        try (Connection c = connect(url, user, password, false);
                Connection rewriting = connect(url, user, password, true)) {
            // A prepared INSERT run often enough that pgjdbc switches to a
            // named server-side statement (prepareThreshold, 5).
            PreparedStatement insert = c.prepareStatement("INSERT INTO orders (id, user_id) VALUES (?, ?)");
            for (int i = 0; i < 8; i++) {
                int id = 100 + i, userId = i % 3 == 1 ? 90 + i : 1 + i % 3;
                step("prepared insert " + i, () -> {
                    insert.setInt(1, id);
                    insert.setInt(2, userId);
                    return "count " + insert.executeUpdate();
                });
            }
            step("prepared insert of a long key", () -> {
                insert.setInt(1, 110);
                insert.setLong(2, 3L);
                return "count " + insert.executeUpdate();
            });
            step("prepared insert of a null key", () -> {
                insert.setInt(1, 111);
                insert.setNull(2, java.sql.Types.INTEGER);
                return "count " + insert.executeUpdate();
            });
            step("prepared insert of a string key", () -> {
                insert.setInt(1, 112);
                insert.setString(2, "2");
                return "count " + insert.executeUpdate();
            });

            // executeBatch: one Sync for the whole batch, a violation in
            // the middle.
            for (Connection conn : new Connection[] {c, rewriting}) {
                String label = conn == c ? "batch" : "rewritten batch";
                int base = conn == c ? 200 : 250;
                step(label + " with a violation", () -> {
                    PreparedStatement b = conn.prepareStatement("INSERT INTO orders (id, user_id) VALUES (?, ?)");
                    int[][] rows = {{base, 1}, {base + 1, 2}, {base + 2, 77}, {base + 3, 3}};
                    for (int[] r : rows) {
                        b.setInt(1, r[0]);
                        b.setInt(2, r[1]);
                        b.addBatch();
                    }
                    return "counts " + Arrays.toString(b.executeBatch());
                });
                step(label + " of valid rows", () -> {
                    PreparedStatement b = conn.prepareStatement("INSERT INTO orders (id, user_id) VALUES (?, ?)");
                    for (int i = 0; i < 3; i++) {
                        b.setInt(1, base + 10 + i);
                        b.setInt(2, 1 + i);
                        b.addBatch();
                    }
                    return "counts " + Arrays.toString(b.executeBatch());
                });
            }

            // Several statements in one string: pgjdbc sends each as its own
            // Parse/Bind/Execute before one Sync.
            step("multi-statement string", () -> {
                Statement s = c.createStatement();
                s.execute("INSERT INTO orders VALUES (300, 2); INSERT INTO orders VALUES (301, 55); INSERT INTO orders VALUES (302, 1)");
                return "count " + s.getUpdateCount();
            });

            // Generated keys: pgjdbc appends RETURNING *.
            PreparedStatement returning = c.prepareStatement("INSERT INTO orders (id, user_id) VALUES (?, ?)",
                    Statement.RETURN_GENERATED_KEYS);
            for (int[] r : new int[][] {{310, 1}, {311, 66}, {312, 3}}) {
                step("generated keys " + r[0], () -> {
                    returning.setInt(1, r[0]);
                    returning.setInt(2, r[1]);
                    int n = returning.executeUpdate();
                    return "count " + n + " keys " + rows(returning.getGeneratedKeys());
                });
            }

            // A transaction with a savepoint around a violation.
            c.setAutoCommit(false);
            step("transaction insert", () -> "count " + c.createStatement().executeUpdate("INSERT INTO orders VALUES (400, 1)"));
            Savepoint sp = c.setSavepoint();
            step("transaction violation", () -> "count " + c.createStatement().executeUpdate("INSERT INTO orders VALUES (401, 404)"));
            step("statement in the aborted transaction", () -> rows(c.createStatement().executeQuery("SELECT 1")));
            step("rollback to savepoint", () -> {
                c.rollback(sp);
                return "ok";
            });
            step("update after the savepoint", () -> {
                PreparedStatement u = c.prepareStatement("UPDATE orders SET user_id = ? WHERE id = ?");
                u.setInt(1, 2);
                u.setInt(2, 400);
                return "count " + u.executeUpdate();
            });
            step("commit", () -> {
                c.commit();
                return "ok";
            });
            step("delete of a referenced parent", () -> "count " + c.createStatement().executeUpdate("DELETE FROM users WHERE id = 1"));
            step("rollback", () -> {
                c.rollback();
                return "ok";
            });
            step("update of a referenced key", () -> {
                PreparedStatement u = c.prepareStatement("UPDATE users SET id = ? WHERE id = ?");
                u.setInt(1, 9);
                u.setInt(2, 2);
                return "count " + u.executeUpdate();
            });
            step("rollback again", () -> {
                c.rollback();
                return "ok";
            });
            c.setAutoCommit(true);

            // COPY through the CopyManager, with a missing parent.
            PGConnection pg = c.unwrap(PGConnection.class);
            step("copy in", () -> "rows " + pg.getCopyAPI().copyIn("COPY orders (id, user_id) FROM STDIN",
                    new StringReader("500\t1\n501\t2\n")));
            step("copy in with a violation", () -> "rows " + pg.getCopyAPI().copyIn("COPY orders (id, user_id) FROM STDIN",
                    new StringReader("510\t1\n511\t99\n")));

            // Things that touch no relationship.
            step("query with a parameter", () -> {
                PreparedStatement q = c.prepareStatement("SELECT count(*) FROM orders WHERE user_id = ?");
                List<String> counts = new ArrayList<>();
                for (int u = 1; u <= 6; u++) {
                    q.setInt(1, u % 3 + 1);
                    counts.add(rows(q.executeQuery()));
                }
                return String.join(" ", counts);
            });
            step("metadata", () -> rows(c.getMetaData().getPrimaryKeys(null, "public", "users")));
            step("listen and notify", () -> {
                Statement s = c.createStatement();
                s.execute("LISTEN jdbc_channel");
                s.execute("NOTIFY jdbc_channel, 'hello'");
                PGNotification[] notes = pg.getNotifications(5000);
                List<String> out = new ArrayList<>();
                for (PGNotification n : notes == null ? new PGNotification[0] : notes) {
                    out.add(n.getName() + "=" + n.getParameter());
                }
                return String.join(" ", out);
            });
            step("query timeout", () -> {
                Statement s = c.createStatement();
                s.setQueryTimeout(1);
                s.execute("SELECT pg_sleep(10)");
                return "not cancelled";
            });
            step("after the timeout", () -> rows(c.createStatement().executeQuery("SELECT 'still usable'")));
            step("orders", () -> rows(c.createStatement().executeQuery("SELECT id, user_id, note FROM orders ORDER BY id")));
        }
    }
}
