package proxy

import (
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/softfk/softfk/policy"
)

// loadCatalog reads, on the session's own connection and before the client
// gets control, the catalog facts of the tables the database's
// relationships name, unless another session loaded them already.
func (s *session) loadCatalog() error {
	db := s.rules()
	due, release := s.catalogDue(db)
	defer release()
	if !due {
		return nil
	}
	sql := policy.CatalogJITOff + ";\n" + db.CatalogQuery()
	if err := s.writeUpstream(appendMessage(nil, 'Q', append([]byte(sql), 0))); err != nil {
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
			s.useCatalog(db, rows)
			return nil
		}
	}
}

// catalogDue reports whether this session must read db's catalog: the
// database has relationships and no catalog yet, or one older than the
// server's catalogMaxAge that no other session is reading again. Changes
// made directly on the server (a trigger, a default, a column type) are
// so seen within that age. release ends the claim to read it again.
func (s *session) catalogDue(db *policy.DB) (due bool, release func()) {
	switch {
	case !db.Active():
		return false, func() {}
	case !db.HasCatalog():
		return true, func() {}
	case db.ClaimRefresh(s.srv.catalogMaxAge):
		return true, db.ReleaseRefresh
	}
	return false, func() {}
}

// useCatalog resolves the relationships against catalog rows.
func (s *session) useCatalog(db *policy.DB, rows [][]string) error {
	missing, err := db.SetCatalog(rows)
	if err != nil {
		s.log.Warn("cannot use the catalog", zap.Error(err))
		return err
	}
	if len(missing) > 0 {
		s.log.Warn("relationships whose tables or columns do not exist, or whose key types cannot be compared, are not enforced", zap.Strings("relationships", missing))
	}
	return nil
}

// ensureCatalog loads the catalog in the middle of a session (after a
// reload, after DDL on a guarded table invalidated it, or when it is due
// to be read again), with softfk's own statement on the session's
// connection inside whatever transaction is open, JIT off for it alone
// (see policy.CatalogJITSave).
func (f *frontend) ensureCatalog(db *policy.DB) error {
	due, release := f.s.catalogDue(db)
	defer release()
	if !due {
		return nil
	}
	rd := newRound(3)
	resp := &stepResponder{round: rd, collect: true}
	f.sendStep(&policy.Step{SQL: policy.CatalogJITSave}, &stepResponder{round: rd}, nil)
	f.sendStep(&policy.Step{SQL: db.CatalogQuery(), Collect: true}, resp, nil)
	f.sendStep(&policy.Step{SQL: policy.CatalogJITRestore}, &stepResponder{round: rd}, nil)
	ok, err := f.await(rd)
	if err != nil {
		return err
	}
	if !ok {
		return errCatalogUnavailable
	}
	rows := make([][]string, len(resp.rows))
	for i, r := range resp.rows {
		for _, v := range r {
			if v == nil {
				rows[i] = append(rows[i], "")
			} else {
				rows[i] = append(rows[i], *v)
			}
		}
	}
	return f.s.useCatalog(db, rows)
}

// errCatalogUnavailable means softfk could not read the catalog it needs
// to plan a write (the client has the server's error).
var errCatalogUnavailable = errors.New("catalog unavailable")
