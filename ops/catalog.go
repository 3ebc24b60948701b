package ops

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/policy"
)

// LoadCatalog reads the catalog entries of tables (see
// policy.CatalogQueries) over the simple protocol, where every cell
// arrives as text.
func LoadCatalog(ctx context.Context, conn *pgx.Conn, tables []config.TableName) (*policy.Catalog, error) {
	var text [][]string
	for _, q := range policy.CatalogQueries(tables) {
		rows, err := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return nil, err
		}
		chunk, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([]string, error) {
			vals := make([]string, len(row.RawValues()))
			for i, v := range row.RawValues() {
				vals[i] = string(v)
			}
			return vals, nil
		})
		if err != nil {
			return nil, err
		}
		text = append(text, chunk...)
	}
	return policy.ParseCatalog(text)
}
