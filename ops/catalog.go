package ops

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/policy"
)

// LoadCatalog reads the catalog entries of tables (see policy.CatalogQuery)
// over the simple protocol, where every cell arrives as text.
func LoadCatalog(ctx context.Context, conn *pgx.Conn, tables []config.TableName) (*policy.Catalog, error) {
	rows, err := conn.Query(ctx, policy.CatalogQuery(tables), pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, err
	}
	text, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([]string, error) {
		vals := make([]string, len(row.RawValues()))
		for i, v := range row.RawValues() {
			vals[i] = string(v)
		}
		return vals, nil
	})
	if err != nil {
		return nil, err
	}
	return policy.ParseCatalog(text)
}
