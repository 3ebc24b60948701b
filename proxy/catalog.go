package proxy

import (
	"fmt"

	"go.uber.org/zap"
)

// loadCatalog reads, on the session's own connection and before the client
// gets control, the catalog facts of the tables the database's
// relationships name, unless another session loaded them already.
func (s *session) loadCatalog() error {
	if !s.db.Active() || s.db.HasCatalog() {
		return nil
	}
	if err := s.writeUpstream(appendMessage(nil, 'Q', append([]byte(s.db.CatalogQuery()), 0))); err != nil {
		return err
	}
	var rows [][]string
	var failure string
	for {
		typ, body, err := s.upstreamIn.next()
		if err != nil {
			return fmt.Errorf("reading the catalog: %w", err)
		}
		switch typ {
		case 'D':
			var row []string
			for _, v := range lastValues(body, columnCount(body)) {
				if v == nil {
					row = append(row, "")
				} else {
					row = append(row, *v)
				}
			}
			rows = append(rows, row)
		case 'E':
			failure = string(body)
		case 'S':
			s.noteParameterStatus(body)
		case 'Z':
			if failure != "" {
				s.log.Warn("cannot read the catalog: relationships stay unenforced in this session", zap.String("error", failure))
				return nil
			}
			missing, err := s.db.SetCatalog(rows)
			if err != nil {
				s.log.Warn("cannot use the catalog", zap.Error(err))
			} else if len(missing) > 0 {
				s.log.Warn("relationships whose tables or columns do not exist are not enforced", zap.Strings("relationships", missing))
			}
			return nil
		}
	}
}
