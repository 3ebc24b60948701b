package ops

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/policy"
)

// LoadCatalog reads the catalog entries of tables (see policy.CatalogQuery)
// over the simple protocol, where every cell arrives as text, JIT off for
// the query (see policy.CatalogJITOff).
func LoadCatalog(ctx context.Context, conn *pgx.Conn, tables []config.TableName) (*policy.Catalog, error) {
	rows, err := catalogRows(ctx, conn, tables)
	if err != nil {
		return nil, err
	}
	return policy.ParseCatalog(rows)
}

// catalogRows runs the catalog query for tables, JIT off, and returns its
// rows as text.
func catalogRows(ctx context.Context, conn *pgx.Conn, tables []config.TableName) ([][]string, error) {
	results, err := conn.PgConn().Exec(ctx, policy.CatalogJITOff+";\n"+policy.CatalogQuery(tables)).ReadAll()
	if err != nil {
		return nil, err
	}
	var text [][]string
	for _, row := range results[len(results)-1].Rows {
		vals := make([]string, len(row))
		for i, v := range row {
			vals[i] = string(v)
		}
		text = append(text, vals)
	}
	return text, nil
}
