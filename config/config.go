// Package config loads and validates softfk's YAML configuration: the proxy
// settings and the soft relationships, with every mistake reported by field
// and line.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Mode says what softfk does with a violation.
type Mode string

// The modes.
const (
	Enforce Mode = "enforce" // reject the statement with Postgres's error
	Shadow  Mode = "shadow"  // let it through and log it
)

// Action is what happens to referencing rows when the referenced key goes.
type Action string

// The referential actions, spelled as in SQL.
const (
	NoAction   Action = "no action"
	Restrict   Action = "restrict"
	Cascade    Action = "cascade"
	SetNull    Action = "set null"
	SetDefault Action = "set default"
)

// Match is the MATCH type of a relationship.
type Match string

// The match types.
const (
	MatchSimple Match = "simple"
	MatchFull   Match = "full"
)

// UpstreamTLS says whether and how softfk uses TLS towards Postgres.
type UpstreamTLS string

// The upstream TLS modes, named after libpq's sslmode.
const (
	UpstreamTLSDisable    UpstreamTLS = "disable"
	UpstreamTLSPrefer     UpstreamTLS = "prefer"
	UpstreamTLSRequire    UpstreamTLS = "require"
	UpstreamTLSVerifyFull UpstreamTLS = "verify-full"
)

// Unverifiable says what enforce mode does with a write it cannot analyse.
type Unverifiable string

// The unverifiable policies.
const (
	UnverifiableReject Unverifiable = "reject"
	UnverifiableAllow  Unverifiable = "allow"
)

// Defaults for the settings the file may leave out.
const (
	DefaultListen          = "127.0.0.1:6432"
	DefaultUpstream        = "127.0.0.1:5432"
	DefaultMaxMessageBytes = 64 << 20
	DefaultShutdownGrace   = 30 * time.Second
	// The violation log rotates at this size and keeps this many older files.
	DefaultViolationLogMaxBytes = 100 << 20
	DefaultViolationLogKeep     = 3
)

// Config is a whole softfk configuration.
type Config struct {
	Source          string // the file it was loaded from, if any
	Listen          string
	Upstream        string
	Mode            Mode
	TLS             *TLS // TLS for clients; nil means answer SSLRequest with 'N'
	UpstreamTLS     UpstreamTLS
	UpstreamCAFile  string // CA bundle for upstream_tls: verify-full
	MaxMessageBytes int
	ShutdownGrace   time.Duration
	LogFormat       string // json or console
	MetricsListen   string
	LogKeyValues    bool // false redacts key values in violation logs
	Unverifiable    Unverifiable
	// ViolationLog, when set, is a file receiving every violation event as
	// one JSON line; it rotates at ViolationLogMaxBytes and keeps
	// ViolationLogKeep older files.
	ViolationLog         string
	ViolationLogMaxBytes int64
	ViolationLogKeep     int
	WatchConfig          bool // serve reloads the file when it changes
	Relationships        []Relationship
}

// TLS is the certificate softfk presents to clients.
type TLS struct {
	CertFile string
	KeyFile  string
}

// Relationship is one soft foreign key.
type Relationship struct {
	Name         string // constraint name used in errors
	Database     string // empty: every database
	Table        TableName
	Columns      []string
	RefTable     TableName
	RefColumns   []string
	OnDelete     Action
	OnUpdate     Action
	Match        Match
	Mode         Mode           // effective mode (the global one unless overridden)
	Line         int            // line of the relationship in the file
	FieldLines   map[string]int // line of each field given ("table", "references.columns", ...)
	ExplicitName bool           // the file named the constraint
	ExplicitMode bool           // the file overrode the global mode
}

// LineOf returns the line of a field of the relationship, or of the
// relationship itself when the field was not written.
func (r Relationship) LineOf(field string) int {
	if l, ok := r.FieldLines[field]; ok {
		return l
	}
	return r.Line
}

// Error is a configuration mistake with the field and line it concerns.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

// Error renders the mistake with its field and line.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteByte(':')
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every mistake found in one file.
type Errors []*Error

// Error renders every mistake, one per line.
func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Default returns the configuration used when no file is given.
func Default() *Config {
	return &Config{
		Listen:          DefaultListen,
		Upstream:        DefaultUpstream,
		Mode:            Enforce,
		UpstreamTLS:     UpstreamTLSPrefer,
		MaxMessageBytes: DefaultMaxMessageBytes,
		ShutdownGrace:   DefaultShutdownGrace,
		LogFormat:       "console",
		LogKeyValues:    true,
		Unverifiable:    UnverifiableReject,

		ViolationLogMaxBytes: DefaultViolationLogMaxBytes,
		ViolationLogKeep:     DefaultViolationLogKeep,
	}
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(data)
	var errs Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			e.File = path
		}
		return nil, err
	}
	cfg.Source = path
	return cfg, nil
}

// Parse decodes and validates a configuration document. The error, when not
// nil, is an Errors listing every mistake.
func Parse(data []byte) (*Config, error) {
	cfg := Default()
	p := &decoder{}
	var doc yaml.Node // an empty file decodes to io.EOF: all defaults
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, Errors{{Line: yamlErrorLine(err), Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) > 0 {
		p.root(doc.Content[0], cfg)
	}
	p.validateGraph(cfg.Relationships)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return cfg, nil
}

// yamlErrorLine extracts the line number from a yaml.v3 syntax error.
func yamlErrorLine(err error) int {
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		rest := msg[i+5:]
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		n, _ := strconv.Atoi(rest[:j])
		return n
	}
	return 0
}

// decoder walks the YAML tree, collecting errors instead of stopping at the
// first one.
type decoder struct {
	errs Errors
}

func (p *decoder) fail(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &Error{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// mapping calls handle for each key of a mapping node and reports unknown
// keys, duplicate keys and a node that is not a mapping.
func (p *decoder) mapping(n *yaml.Node, field string, handlers map[string]func(v *yaml.Node, field string)) map[string]bool {
	seen := map[string]bool{}
	if n.Kind != yaml.MappingNode {
		p.fail(n, field, "must be a mapping")
		return seen
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		sub := k.Value
		if field != "" {
			sub = field + "." + k.Value
		}
		h, ok := handlers[k.Value]
		switch {
		case !ok:
			p.fail(k, sub, "unknown key (known keys: %s)", strings.Join(sortedKeys(handlers), ", "))
		case seen[k.Value]:
			p.fail(k, sub, "duplicate key")
		default:
			seen[k.Value] = true
			h(v, sub)
		}
	}
	return seen
}

func sortedKeys(m map[string]func(*yaml.Node, string)) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// scalar returns the string value of a scalar node, reporting other kinds.
func (p *decoder) scalar(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.fail(n, field, "must be a single value")
		return "", false
	}
	return n.Value, true
}

// nonEmpty is scalar that also rejects an empty string.
func (p *decoder) nonEmpty(n *yaml.Node, field string) (string, bool) {
	s, ok := p.scalar(n, field)
	if ok && strings.TrimSpace(s) == "" {
		p.fail(n, field, "must not be empty")
		return "", false
	}
	return s, ok
}

// enum reads a scalar that must be one of choices (compared after folding
// case and collapsing blanks, so "No Action" and "no  action" both work).
func (p *decoder) enum(n *yaml.Node, field string, choices ...string) (string, bool) {
	s, ok := p.scalar(n, field)
	if !ok {
		return "", false
	}
	norm := strings.Join(strings.Fields(strings.ToLower(s)), " ")
	for _, c := range choices {
		if norm == c {
			return c, true
		}
	}
	p.fail(n, field, "unknown value %q (want %s)", s, strings.Join(choices, " | "))
	return "", false
}

func (p *decoder) boolean(n *yaml.Node, field string) (bool, bool) {
	s, ok := p.scalar(n, field)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	p.fail(n, field, "must be true or false, not %q", s)
	return false, false
}

// wholeNumber reads an integer between lo and hi; unit names what it
// counts in the error.
func (p *decoder) wholeNumber(n *yaml.Node, field, unit string, lo, hi int) (int, bool) {
	s, ok := p.scalar(n, field)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		p.fail(n, field, "must be a whole number of %s between %d and %d, not %q", unit, lo, hi, s)
		return 0, false
	}
	return v, true
}

// keyNode returns the key node of key in mapping n, or nil.
func keyNode(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}

func (p *decoder) address(n *yaml.Node, field string) (string, bool) {
	s, ok := p.nonEmpty(n, field)
	if !ok {
		return "", false
	}
	if err := CheckAddress(s); err != nil {
		p.fail(n, field, "%v", err)
		return "", false
	}
	return s, true
}

// CheckAddress validates a host:port (or a Unix socket path starting with /).
func CheckAddress(s string) error {
	if strings.HasPrefix(s, "/") {
		return nil
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return fmt.Errorf("%q is not host:port", s)
	}
	port, err := strconv.Atoi(s[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("%q has no valid port", s)
	}
	return nil
}

func (p *decoder) root(n *yaml.Node, cfg *Config) {
	p.mapping(n, "", map[string]func(*yaml.Node, string){
		"listen": func(v *yaml.Node, f string) {
			if s, ok := p.address(v, f); ok {
				cfg.Listen = s
			}
		},
		"upstream": func(v *yaml.Node, f string) {
			if s, ok := p.address(v, f); ok {
				cfg.Upstream = s
			}
		},
		"mode": func(v *yaml.Node, f string) {
			if s, ok := p.enum(v, f, string(Enforce), string(Shadow)); ok {
				cfg.Mode = Mode(s)
			}
		},
		"tls": func(v *yaml.Node, f string) {
			t := &TLS{}
			seen := p.mapping(v, f, map[string]func(*yaml.Node, string){
				"cert_file": func(v *yaml.Node, f string) { t.CertFile, _ = p.nonEmpty(v, f) },
				"key_file":  func(v *yaml.Node, f string) { t.KeyFile, _ = p.nonEmpty(v, f) },
			})
			if v.Kind == yaml.MappingNode && (!seen["cert_file"] || !seen["key_file"]) {
				p.fail(v, f, "needs both cert_file and key_file")
			}
			cfg.TLS = t
		},
		"upstream_tls": func(v *yaml.Node, f string) {
			if s, ok := p.enum(v, f, "disable", "prefer", "require", "verify-full"); ok {
				cfg.UpstreamTLS = UpstreamTLS(s)
			}
		},
		"upstream_ca_file": func(v *yaml.Node, f string) { cfg.UpstreamCAFile, _ = p.nonEmpty(v, f) },
		"max_message_bytes": func(v *yaml.Node, f string) {
			if n, ok := p.wholeNumber(v, f, "bytes", 1024, 1<<30); ok {
				cfg.MaxMessageBytes = n
			}
		},
		"shutdown_grace": func(v *yaml.Node, f string) {
			s, ok := p.scalar(v, f)
			if !ok {
				return
			}
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 {
				p.fail(v, f, "must be a duration such as 30s or 2m, not %q", s)
				return
			}
			cfg.ShutdownGrace = d
		},
		"log_format": func(v *yaml.Node, f string) {
			if s, ok := p.enum(v, f, "json", "console"); ok {
				cfg.LogFormat = s
			}
		},
		"metrics_listen": func(v *yaml.Node, f string) {
			if s, ok := p.address(v, f); ok {
				cfg.MetricsListen = s
			}
		},
		"log_key_values": func(v *yaml.Node, f string) {
			if b, ok := p.boolean(v, f); ok {
				cfg.LogKeyValues = b
			}
		},
		"unverifiable": func(v *yaml.Node, f string) {
			if s, ok := p.enum(v, f, string(UnverifiableReject), string(UnverifiableAllow)); ok {
				cfg.Unverifiable = Unverifiable(s)
			}
		},
		"violation_log": func(v *yaml.Node, f string) { cfg.ViolationLog, _ = p.nonEmpty(v, f) },
		"violation_log_max_bytes": func(v *yaml.Node, f string) {
			if n, ok := p.wholeNumber(v, f, "bytes", 1024, 1<<40); ok {
				cfg.ViolationLogMaxBytes = int64(n)
			}
		},
		"violation_log_keep": func(v *yaml.Node, f string) {
			if n, ok := p.wholeNumber(v, f, "files", 0, 1000); ok {
				cfg.ViolationLogKeep = n
			}
		},
		"watch_config": func(v *yaml.Node, f string) {
			if b, ok := p.boolean(v, f); ok {
				cfg.WatchConfig = b
			}
		},
		"relationships": func(v *yaml.Node, f string) {
			if v.Tag == "!!null" {
				return
			}
			if v.Kind != yaml.SequenceNode {
				p.fail(v, f, "must be a list")
				return
			}
			for i, item := range v.Content {
				if r, ok := p.relationship(item, fmt.Sprintf("%s[%d]", f, i)); ok {
					cfg.Relationships = append(cfg.Relationships, r)
				}
			}
		},
	})
	if cfg.UpstreamTLS == UpstreamTLSVerifyFull && cfg.UpstreamCAFile == "" {
		p.fail(n, "upstream_ca_file", "is required when upstream_tls is verify-full")
	}
	if cfg.ViolationLog == "" {
		for _, k := range []string{"violation_log_max_bytes", "violation_log_keep"} {
			if key := keyNode(n, k); key != nil {
				p.fail(key, k, "has no effect without violation_log")
			}
		}
	}
	for i := range cfg.Relationships {
		if !cfg.Relationships[i].ExplicitMode {
			cfg.Relationships[i].Mode = cfg.Mode
		}
	}
}

// relationship decodes one entry of the relationships list.
func (p *decoder) relationship(n *yaml.Node, field string) (Relationship, bool) {
	r := Relationship{Line: n.Line, FieldLines: map[string]int{}, OnDelete: NoAction, OnUpdate: NoAction, Match: MatchSimple}
	at := func(v *yaml.Node, f string) { r.FieldLines[strings.TrimPrefix(f, field+".")] = v.Line }
	before := len(p.errs)
	actions := []string{string(NoAction), string(Restrict), string(Cascade), string(SetNull), string(SetDefault)}
	seen := p.mapping(n, field, map[string]func(*yaml.Node, string){
		"name": func(v *yaml.Node, f string) {
			if s, ok := p.nonEmpty(v, f); ok {
				if len(s) > maxIdentifierBytes {
					p.fail(v, f, "is longer than %d bytes", maxIdentifierBytes)
				}
				r.Name, r.ExplicitName = s, true
			}
		},
		"database": func(v *yaml.Node, f string) { r.Database, _ = p.nonEmpty(v, f) },
		"table": func(v *yaml.Node, f string) {
			at(v, f)
			r.Table, _ = p.tableName(v, f)
		},
		"columns": func(v *yaml.Node, f string) {
			at(v, f)
			r.Columns, _ = p.columnList(v, f)
		},
		"references": func(v *yaml.Node, f string) {
			refSeen := p.mapping(v, f, map[string]func(*yaml.Node, string){
				"table": func(v *yaml.Node, f string) {
					at(v, f)
					r.RefTable, _ = p.tableName(v, f)
				},
				"columns": func(v *yaml.Node, f string) {
					at(v, f)
					r.RefColumns, _ = p.columnList(v, f)
				},
			})
			if v.Kind == yaml.MappingNode {
				for _, k := range []string{"table", "columns"} {
					if !refSeen[k] {
						p.fail(v, f+"."+k, "is required")
					}
				}
			}
		},
		"on_delete": func(v *yaml.Node, f string) {
			if s, ok := p.enum(v, f, actions...); ok {
				r.OnDelete = Action(s)
			}
		},
		"on_update": func(v *yaml.Node, f string) {
			if s, ok := p.enum(v, f, actions...); ok {
				r.OnUpdate = Action(s)
			}
		},
		"match": func(v *yaml.Node, f string) {
			if s, ok := p.enum(v, f, string(MatchSimple), string(MatchFull)); ok {
				r.Match = Match(s)
			}
		},
		"mode": func(v *yaml.Node, f string) {
			if s, ok := p.enum(v, f, string(Enforce), string(Shadow)); ok {
				r.Mode, r.ExplicitMode = Mode(s), true
			}
		},
	})
	if n.Kind != yaml.MappingNode {
		return r, false
	}
	for _, k := range []string{"table", "columns", "references"} {
		if !seen[k] {
			p.fail(n, field+"."+k, "is required")
		}
	}
	if r.Columns != nil && r.RefColumns != nil && len(r.Columns) != len(r.RefColumns) {
		p.errs = append(p.errs, &Error{Line: r.LineOf("columns"), Field: field + ".columns",
			Msg: fmt.Sprintf("has %d column(s) but references.columns has %d", len(r.Columns), len(r.RefColumns))})
	}
	if len(p.errs) > before {
		return r, false
	}
	if r.Name == "" {
		r.Name = DefaultConstraintName(r.Table.Name, r.Columns)
	}
	return r, true
}

func (p *decoder) tableName(n *yaml.Node, field string) (TableName, bool) {
	s, ok := p.nonEmpty(n, field)
	if !ok {
		return TableName{}, false
	}
	t, err := ParseTableName(s)
	if err != nil {
		p.fail(n, field, "%v", err)
		return TableName{}, false
	}
	return t, true
}

func (p *decoder) columnList(n *yaml.Node, field string) ([]string, bool) {
	var raw []*yaml.Node
	switch {
	case n.Kind == yaml.SequenceNode:
		raw = n.Content
	case n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		raw = []*yaml.Node{n} // a single column may be written without brackets
	default:
		p.fail(n, field, "must be a list of column names")
		return nil, false
	}
	if len(raw) == 0 {
		p.fail(n, field, "must name at least one column")
		return nil, false
	}
	cols := make([]string, 0, len(raw))
	seen := map[string]bool{}
	for i, c := range raw {
		f := fmt.Sprintf("%s[%d]", field, i)
		s, ok := p.nonEmpty(c, f)
		if !ok {
			return nil, false
		}
		id, err := ParseIdent(s)
		if err != nil {
			p.fail(c, f, "%v", err)
			return nil, false
		}
		if seen[id] {
			p.fail(c, f, "column %q is listed twice", id)
			return nil, false
		}
		seen[id] = true
		cols = append(cols, id)
	}
	return cols, true
}

// validateGraph reports duplicate names and cycles of cascading actions
// between different tables (a table cascading to itself is a tree and is
// allowed, as in Postgres).
func (p *decoder) validateGraph(rels []Relationship) {
	uniqueNames(rels, func(i, j int) {
		p.errs = append(p.errs, &Error{Line: rels[i].Line, Field: fmt.Sprintf("relationships[%d].name", i),
			Msg: fmt.Sprintf("duplicate relationship name %q (also relationships[%d])", rels[i].Name, j)})
	})
	if cycle := cascadeCycle(rels); cycle != nil {
		names := make([]string, len(cycle))
		for i, idx := range cycle {
			names[i] = fmt.Sprintf("%s (%s -> %s)", rels[idx].Name, rels[idx].RefTable, rels[idx].Table)
		}
		first := cycle[0]
		p.errs = append(p.errs, &Error{Line: rels[first].Line, Field: fmt.Sprintf("relationships[%d]", first),
			Msg: "cascading actions form a cycle: " + strings.Join(names, ", ")})
	}
}

// uniqueNames makes default names unique the way Postgres does (appending
// 1, 2, ... to the later ones) and calls dup for explicit names used twice.
func uniqueNames(rels []Relationship, dup func(i, j int)) {
	used := map[string]int{}
	for i := range rels {
		r := &rels[i]
		if j, taken := used[r.Name]; taken {
			if r.ExplicitName {
				dup(i, j)
				continue
			}
			for n := 1; ; n++ {
				cand := makeObjectName(r.Table.Name, fkNameAddition(r.Columns), "fkey"+strconv.Itoa(n))
				if _, taken := used[cand]; !taken {
					r.Name = cand
					break
				}
			}
		}
		used[r.Name] = i
	}
}

// cascadeCycle finds a cycle of cascading relationships (parent → child
// edges whose on_delete or on_update is cascade) through at least two
// tables, returned as relationship indexes, or nil.
func cascadeCycle(rels []Relationship) []int {
	edges := map[TableName][]int{}
	for i, r := range rels {
		if (r.OnDelete == Cascade || r.OnUpdate == Cascade) && r.Table != r.RefTable {
			edges[r.RefTable] = append(edges[r.RefTable], i)
		}
	}
	const (
		unvisited = iota
		onStack
		done
	)
	state := map[TableName]int{}
	var path []int
	var visit func(t TableName) []int
	visit = func(t TableName) []int {
		state[t] = onStack
		for _, i := range edges[t] {
			child := rels[i].Table
			path = append(path, i)
			switch state[child] {
			case onStack:
				for k, j := range path {
					if rels[j].RefTable == child {
						return append([]int(nil), path[k:]...)
					}
				}
			case unvisited:
				if c := visit(child); c != nil {
					return c
				}
			}
			path = path[:len(path)-1]
		}
		state[t] = done
		return nil
	}
	for i := range rels {
		if t := rels[i].RefTable; state[t] == unvisited {
			if c := visit(t); c != nil {
				return c
			}
		}
	}
	return nil
}

// SetMode changes the global mode; relationships that do not override the
// mode follow it.
func (c *Config) SetMode(m Mode) error {
	if m != Enforce && m != Shadow {
		return fmt.Errorf("unknown mode %q (want enforce | shadow)", m)
	}
	c.Mode = m
	for i := range c.Relationships {
		if !c.Relationships[i].ExplicitMode {
			c.Relationships[i].Mode = m
		}
	}
	return nil
}
