import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.Driver;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Drives the official ClickHouse JDBC driver (com.clickhouse:clickhouse-jdbc, default settings)
 * against an HTTP endpoint and prints one JSON object per check on stdout:
 * {"check": NAME, "ok": true, ...values} or {"check": NAME, "ok": false, "error": "..."}.
 * A failing check does not stop the others. tests/integration/test_client_jdbc.py asserts on the lines.
 *
 * Usage: java -cp 'LIBS/*' JdbcCheck.java URL USER PASSWORD DATABASE TABLE
 * (the database exists already; TABLE is a fresh name created here, qualified with DATABASE).
 */
public class JdbcCheck {
    interface Check {
        void run(Map<String, Object> out) throws Exception;
    }

    static void check(String name, Check body) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("check", name);
        try {
            body.run(out);
            out.put("ok", true);
        } catch (Throwable e) {
            out.put("ok", false);
            out.put("error", describe(e));
        }
        System.out.println(json(out));
        System.out.flush();
    }

    static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (sb.length() > 0) {
                sb.append(" | caused by: ");
            }
            sb.append(t.getClass().getName()).append(": ").append(t.getMessage());
            if (t.getCause() == t) {
                break;
            }
        }
        return sb.toString();
    }

    static String json(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof Boolean || value instanceof Integer || value instanceof Long) {
            return value.toString();
        }
        if (value instanceof Number) {
            return value.toString();
        }
        if (value instanceof Map) {
            StringBuilder sb = new StringBuilder("{");
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                if (sb.length() > 1) {
                    sb.append(",");
                }
                sb.append(json(String.valueOf(e.getKey()))).append(":").append(json(e.getValue()));
            }
            return sb.append("}").toString();
        }
        if (value instanceof List) {
            StringBuilder sb = new StringBuilder("[");
            for (Object item : (List<?>) value) {
                if (sb.length() > 1) {
                    sb.append(",");
                }
                sb.append(json(item));
            }
            return sb.append("]").toString();
        }
        String s = value.toString();
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.append("\"").toString();
    }

    /** Column names and ClickHouse type names of a result, plus JDBC type codes. */
    static void describeColumns(ResultSetMetaData md, Map<String, Object> out) throws SQLException {
        List<Object> names = new ArrayList<>();
        List<Object> types = new ArrayList<>();
        List<Object> jdbcTypes = new ArrayList<>();
        for (int i = 1; i <= md.getColumnCount(); i++) {
            names.add(md.getColumnName(i));
            types.add(md.getColumnTypeName(i));
            jdbcTypes.add(md.getColumnType(i));
        }
        out.put("column_count", md.getColumnCount());
        out.put("names", names);
        out.put("types", types);
        out.put("jdbc_types", jdbcTypes);
    }

    public static void main(String[] args) throws Exception {
        final String url = args[0];
        final String user = args[1];
        final String password = args[2];
        final String db = args[3];
        final String table = args[4];
        final String qualified = db + "." + table;

        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password);
        final Connection[] holder = new Connection[1];

        check("connect", out -> {
            Driver driver = DriverManager.getDriver(url);
            out.put("driver_class", driver.getClass().getName());
            Connection conn = DriverManager.getConnection(url, props);
            holder[0] = conn;
            DatabaseMetaData meta = conn.getMetaData();
            out.put("driver_version", meta.getDriverVersion());
            out.put("product", meta.getDatabaseProductName());
            out.put("product_version", meta.getDatabaseProductVersion());
            out.put("schema", conn.getSchema());
            out.put("catalog", conn.getCatalog());
        });
        final Connection conn = holder[0];
        if (conn == null) {
            return;
        }

        check("select_one", out -> {
            try (Statement st = conn.createStatement();
                    ResultSet rs = st.executeQuery("SELECT 1 AS one, 'abc' AS s, toUInt64(42) AS u")) {
                describeColumns(rs.getMetaData(), out);
                List<Object> rows = new ArrayList<>();
                while (rs.next()) {
                    rows.add(List.of(rs.getInt(1), rs.getString(2), rs.getLong(3)));
                }
                out.put("rows", rows);
            }
        });

        // the database of the URL path (sent as the X-ClickHouse-Database header / database parameter)
        check("current_database", out -> {
            try (Statement st = conn.createStatement();
                    ResultSet rs = st.executeQuery("SELECT currentDatabase()")) {
                rs.next();
                out.put("database", rs.getString(1));
            }
        });

        check("create_table", out -> {
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE TABLE " + qualified + " (id UInt32, name String, score Float64, "
                        + "tags Array(String), note Nullable(String)) ENGINE = MergeTree ORDER BY id");
            }
        });

        check("batch_insert", out -> {
            String sql = "INSERT INTO " + qualified + " (id, name, score, tags, note) VALUES (?, ?, ?, ?, ?)";
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                for (int i = 0; i < 1000; i++) {
                    ps.setInt(1, i);
                    ps.setString(2, "name-" + i + (i % 7 == 0 ? " 新闻's" : ""));
                    ps.setDouble(3, i * 0.5);
                    ps.setArray(4, conn.createArrayOf("String", new Object[] {"t" + (i % 3), "x"}));
                    if (i % 2 == 0) {
                        ps.setNull(5, java.sql.Types.VARCHAR);
                    } else {
                        ps.setString(5, "n" + i);
                    }
                    ps.addBatch();
                }
                int[] counts = ps.executeBatch();
                long total = 0;
                for (int c : counts) {
                    total += c;
                }
                out.put("batch_results", counts.length);
                out.put("batch_total", total);
            }
            try (Statement st = conn.createStatement();
                    ResultSet rs = st.executeQuery("SELECT count(), sum(id), sum(score), countIf(note IS NULL), "
                            + "countIf(name LIKE '%新闻''s'), sum(length(tags)) FROM " + qualified)) {
                rs.next();
                out.put("count", rs.getLong(1));
                out.put("sum_id", rs.getLong(2));
                out.put("sum_score", rs.getDouble(3));
                out.put("null_notes", rs.getLong(4));
                out.put("unicode_names", rs.getLong(5));
                out.put("tag_count", rs.getLong(6));
            }
        });

        check("prepared_select", out -> {
            String sql = "SELECT id, name, score, tags, note FROM " + qualified
                    + " WHERE id BETWEEN ? AND ? AND name != ? ORDER BY id";
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                ps.setInt(1, 40);
                ps.setLong(2, 44);
                ps.setString(3, "name-43");
                try (ResultSet rs = ps.executeQuery()) {
                    describeColumns(rs.getMetaData(), out);
                    List<Object> rows = new ArrayList<>();
                    while (rs.next()) {
                        List<Object> row = new ArrayList<>();
                        row.add(rs.getLong("id"));
                        row.add(rs.getString("name"));
                        row.add(rs.getDouble("score"));
                        Object[] tags = (Object[]) rs.getArray("tags").getArray();
                        List<Object> tagList = new ArrayList<>();
                        for (Object t : tags) {
                            tagList.add(String.valueOf(t));
                        }
                        row.add(tagList);
                        row.add(rs.getString("note"));
                        rows.add(row);
                    }
                    out.put("rows", rows);
                }
            }
            // a quote-laden string parameter comes back intact
            try (PreparedStatement ps = conn.prepareStatement("SELECT ? AS s, ? + 1 AS n")) {
                ps.setString(1, "it's a \\ test; -- 扶贫");
                ps.setInt(2, 41);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    out.put("echo", rs.getString(1));
                    out.put("echo_n", rs.getLong(2));
                }
            }
        });

        check("metadata_tables", out -> {
            DatabaseMetaData meta = conn.getMetaData();
            List<Object> rows = new ArrayList<>();
            try (ResultSet rs = meta.getTables(null, db, table, null)) {
                while (rs.next()) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("TABLE_CAT", rs.getString("TABLE_CAT"));
                    row.put("TABLE_SCHEM", rs.getString("TABLE_SCHEM"));
                    row.put("TABLE_NAME", rs.getString("TABLE_NAME"));
                    row.put("TABLE_TYPE", rs.getString("TABLE_TYPE"));
                    rows.add(row);
                }
            }
            out.put("tables", rows);
            List<Object> schemas = new ArrayList<>();
            try (ResultSet rs = meta.getSchemas()) {
                while (rs.next()) {
                    schemas.add(rs.getString("TABLE_SCHEM"));
                }
            }
            out.put("has_db_schema", schemas.contains(db));
        });

        check("metadata_columns", out -> {
            DatabaseMetaData meta = conn.getMetaData();
            List<Object> rows = new ArrayList<>();
            try (ResultSet rs = meta.getColumns(null, db, table, "%")) {
                while (rs.next()) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("TABLE_SCHEM", rs.getString("TABLE_SCHEM"));
                    row.put("TABLE_CAT", rs.getString("TABLE_CAT"));
                    row.put("COLUMN_NAME", rs.getString("COLUMN_NAME"));
                    row.put("TYPE_NAME", rs.getString("TYPE_NAME"));
                    row.put("DATA_TYPE", rs.getInt("DATA_TYPE"));
                    row.put("NULLABLE", rs.getInt("NULLABLE"));
                    row.put("ORDINAL_POSITION", rs.getInt("ORDINAL_POSITION"));
                    rows.add(row);
                }
            }
            out.put("columns", rows);
        });

        check("empty_result", out -> {
            try (Statement st = conn.createStatement();
                    ResultSet rs = st.executeQuery("SELECT id, name, score, tags, note FROM " + qualified
                            + " WHERE id > 4000000000")) {
                describeColumns(rs.getMetaData(), out);
                int rows = 0;
                while (rs.next()) {
                    rows++;
                }
                out.put("rows", rows);
            }
        });

        check("limit_zero", out -> {
            try (Statement st = conn.createStatement();
                    ResultSet rs = st.executeQuery("SELECT number, toString(number) AS s FROM numbers(10) LIMIT 0")) {
                describeColumns(rs.getMetaData(), out);
                int rows = 0;
                while (rs.next()) {
                    rows++;
                }
                out.put("rows", rows);
            }
        });

        check("large_result", out -> {
            try (Statement st = conn.createStatement();
                    ResultSet rs = st.executeQuery("SELECT number, toString(number) AS s FROM numbers(200000)")) {
                describeColumns(rs.getMetaData(), out);
                long rows = 0;
                long sum = 0;
                long chars = 0;
                long mismatches = 0;
                while (rs.next()) {
                    long n = rs.getLong(1);
                    String s = rs.getString(2);
                    if (n != rows || !s.equals(Long.toString(n))) {
                        mismatches++;
                    }
                    rows++;
                    sum += n;
                    chars += s.length();
                }
                out.put("rows", rows);
                out.put("sum", sum);
                out.put("chars", chars);
                out.put("mismatches", mismatches);
            }
        });

        // a server-side error (sent while the driver asked for compress=1) reaches the caller intact
        check("server_error", out -> {
            try (Statement st = conn.createStatement();
                    ResultSet rs = st.executeQuery("SELECT * FROM no_such_db_jdbc.no_such_table")) {
                out.put("unexpected", "the query succeeded");
            } catch (SQLException e) {
                out.put("error_code", e.getErrorCode());
                out.put("message", e.getMessage());
            }
            // and the connection is usable afterwards
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT 7")) {
                rs.next();
                out.put("after", rs.getInt(1));
            }
        });

        check("close", out -> conn.close());
    }
}
