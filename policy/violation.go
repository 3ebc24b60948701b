package policy

import (
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"

	"github.com/softfk/softfk/config"
)

// Violation is one write a real FOREIGN KEY would have rejected (or, in
// shadow mode, an action it would have applied), with the error Postgres
// raises for it.
type Violation struct {
	Rel *Rel
	// Conflict, when set, is not a violation but a serialization failure:
	// under REPEATABLE READ or SERIALIZABLE, a concurrent transaction may have referenced
	// the key unseen.
	Conflict bool
	// Code is the error's SQLSTATE: 23503 but for a conflict (40001) and
	// key types a FOREIGN KEY could not compare (42804).
	Code       string
	Action     string // "" for a rejected write; the ON DELETE/UPDATE action a shadow relationship would apply
	Message    string
	Detail     string
	Schema     string
	Table      string
	Constraint string
	File       string // the Postgres source file that raises it
	Routine    string // the function there
	Line       int32  // its line (PostgreSQL 15)
	Key        string // the key as in DETAIL, e.g. "(user_id)=(42)"
}

// Lines of ri_triggers.c (PostgreSQL 15) that raise each error, so verbose
// clients show the same LOCATION.
const (
	lineNotPresent = 2596
	lineReferenced = 2609
	lineMatchFull  = 305
	lineRemoved    = 2586
)

// lineIncompatible is the line of tablecmds.c (PostgreSQL 15) that refuses
// a FOREIGN KEY between incompatible key types.
const lineIncompatible = 9489

// signalPayload finds the JSON of a violation signal in an error message.
// It does not depend on the wording around it, which the server may
// translate (lc_messages).
func signalPayload(message string) (string, bool) {
	i := strings.Index(message, SignalPrefix+"[")
	j := strings.LastIndexByte(message, ']')
	if i < 0 || j < i {
		return "", false
	}
	return message[i+len(SignalPrefix) : j+1], true
}

// IsSignal reports whether an error (its SQLSTATE and message) is a check's
// violation signal.
func IsSignal(code, message string) bool {
	_, ok := signalPayload(message)
	return ok && code == signalCode
}

// FromError decodes the violation an enforced check signalled through its
// error message.
func (c *Check) FromError(message string) (*Violation, error) {
	payload, ok := signalPayload(message)
	if !ok {
		return nil, fmt.Errorf("not a violation signal: %q", message)
	}
	return c.decode(payload)
}

// FromRow decodes the violation a shadow check returned as a row value.
func (c *Check) FromRow(value string) (*Violation, error) {
	if !strings.HasPrefix(value, SignalPrefix) {
		return nil, fmt.Errorf("not a violation row: %q", value)
	}
	return c.decode(strings.TrimPrefix(value, SignalPrefix))
}

// decode turns the JSON [relationship, may-see-key, kind, values...] into
// the error Postgres's ri_ReportViolation would raise.
func (c *Check) decode(payload string) (*Violation, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal([]byte(payload), &parts); err != nil || len(parts) < 3 {
		return nil, fmt.Errorf("malformed violation signal %q", payload)
	}
	var idx int
	var perm bool
	var kind string
	if json.Unmarshal(parts[0], &idx) != nil || json.Unmarshal(parts[1], &perm) != nil || json.Unmarshal(parts[2], &kind) != nil {
		return nil, fmt.Errorf("malformed violation signal %q", payload)
	}
	rel := c.rels[idx]
	if rel == nil {
		return nil, fmt.Errorf("violation signal for unknown relationship %d", idx)
	}
	r := rel.reportedAs()
	values := make([]*string, 0, len(parts)-3)
	for _, p := range parts[3:] {
		var v *string
		if json.Unmarshal(p, &v) != nil {
			return nil, fmt.Errorf("malformed key in violation signal %q", payload)
		}
		values = append(values, v)
	}
	v := &Violation{Rel: rel, Code: "23503", Schema: r.Table.Schema, Table: r.Table.Name, Constraint: r.Name,
		File: "ri_triggers.c", Routine: "ri_ReportViolation", Line: lineNotPresent}
	switch kind {
	case kindIncompatible:
		if len(values) != 4 || slices.Contains(values, nil) {
			return nil, fmt.Errorf("malformed incompatible key types signal %q", payload)
		}
		*v = Violation{Rel: rel, Code: "42804", File: "tablecmds.c", Routine: "ATAddForeignKeyConstraint", Line: lineIncompatible,
			Message: fmt.Sprintf("foreign key constraint \"%s\" cannot be implemented", r.Name),
			Detail: fmt.Sprintf("Key columns \"%s\" and \"%s\" are of incompatible types: %s and %s.",
				*values[0], *values[1], *values[2], *values[3])}
	case kindConflict:
		v.Conflict, v.Code = true, "40001"
		v.Message = "could not serialize access due to concurrent update"
		v.Key = "(" + strings.Join(r.RefColumns, ", ") + ")"
	case kindMissing, kindMixedNulls:
		v.Key = KeyText(r.Columns, values)
		v.Message = fmt.Sprintf("insert or update on table \"%s\" violates foreign key constraint \"%s\"", r.Table.Name, r.Name)
		switch {
		case kind == kindMixedNulls:
			v.Detail, v.Routine, v.Line = "MATCH FULL does not allow mixing of null and nonnull key values.", "RI_FKey_check", lineMatchFull
		case perm:
			v.Detail = fmt.Sprintf("Key %s is not present in table \"%s\".", v.Key, r.RefTable.Name)
		default:
			v.Detail = fmt.Sprintf("Key is not present in table \"%s\".", r.RefTable.Name)
		}
	case kindRemoved:
		v.Key = KeyText(r.Columns, values)
		v.Message = fmt.Sprintf("removing partition \"%s\" violates foreign key constraint \"%s\"", c.removed, r.Name)
		v.Line = lineRemoved
		// Postgres shows this key whatever the user may see.
		v.Detail = fmt.Sprintf("Key %s is still referenced from table \"%s\".", v.Key, r.Table.Name)
	default:
		v.Key = KeyText(r.RefColumns, values)
		v.Message = fmt.Sprintf("update or delete on table \"%s\" violates foreign key constraint \"%s\" on table \"%s\"", r.RefTable.Name, r.Name, r.Table.Name)
		v.Line = lineReferenced
		if perm {
			v.Detail = fmt.Sprintf("Key %s is still referenced from table \"%s\".", v.Key, r.Table.Name)
		} else {
			v.Detail = fmt.Sprintf("Key is still referenced from table \"%s\".", r.Table.Name)
		}
		if kind != kindReferenced {
			v.Action = kind
		}
	}
	return v, nil
}

// KeyText renders a key as Postgres's DETAIL shows it: "(a, b)=(1, x)",
// NULL as null.
func KeyText(cols []string, values []*string) string {
	text := make([]string, len(values))
	for i, v := range values {
		text[i] = "null"
		if v != nil {
			text[i] = *v
		}
	}
	return "(" + strings.Join(cols, ", ") + ")=(" + strings.Join(text, ", ") + ")"
}

// Mode is the mode the check ran in.
func (c *Check) Mode() config.Mode {
	if c.Shadow {
		return config.Shadow
	}
	return config.Enforce
}

// Rels returns the relationships the check covers.
func (c *Check) Rels() iter.Seq[*Rel] {
	return maps.Values(c.rels)
}
