package parser

import (
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// softfk's companion statements repeat pieces of the client's statement
// (its FROM, WHERE, read-only WITH queries, assigned values, MERGE
// conditions), deparsed. When Postgres reports an error in one of those
// pieces, ClientOffset finds where the piece stands in the client's text,
// so the error can point there, as it would have pointed had the client's
// statement met it first.

// ClientOffset maps the byte offset at of an error in sql, a statement
// softfk built around pieces of the write, to the offset of the same
// element in the query string the write was analysed from; -1 when it
// falls in no such piece.
func (w *Write) ClientOffset(sql string, at int) int {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return -1
	}
	for _, piece := range w.pieces() {
		// A piece may be repeated whole, or in parts (a WHERE ANDed with
		// a condition of softfk's becomes one list of conditions): its
		// subtrees are tried too, larger first.
		off := -1
		walk(piece.ProtoReflect(), func(m protoreflect.Message) {
			if _, node := m.Interface().(*pg_query.Node); off < 0 && (node || m.Interface() == piece) {
				off = locate(tree.ProtoReflect(), m, at)
			}
		})
		if off >= 0 {
			return off
		}
	}
	return -1
}

// pieces returns the parts of the client's statement companion statements
// may repeat.
func (w *Write) pieces() []proto.Message {
	var out []proto.Message
	add := func(nodes ...*pg_query.Node) {
		for _, n := range nodes {
			if n != nil {
				out = append(out, n)
			}
		}
	}
	add(w.where)
	add(w.from...)
	add(w.scope.readOnly...)
	for _, a := range w.Set {
		add(a.Value.node)
	}
	for _, c := range w.Merge {
		add(c.cond)
		for _, v := range c.Values {
			add(v.node)
		}
		for _, a := range c.Set {
			add(a.Value.node)
		}
	}
	if w.rel != nil {
		out = append(out, w.rel)
	}
	return out
}

// locate looks in tree for a copy of piece (equal but for locations) with
// an element at offset at, and returns the offset of the same element in
// piece; -1 if there is none.
func locate(tree, piece protoreflect.Message, at int) int {
	name, key := piece.Descriptor().FullName(), withoutLocations(piece)
	found := -1
	walk(tree, func(m protoreflect.Message) {
		if found < 0 && m.Descriptor().FullName() == name && slices.Equal(withoutLocations(m), key) {
			found = matchingLocation(m, piece, at)
		}
	})
	return found
}

// withoutLocations renders a parse tree with every location zeroed, to
// compare trees by content.
func withoutLocations(m protoreflect.Message) []byte {
	c := proto.Clone(m.Interface())
	walk(c.ProtoReflect(), func(m protoreflect.Message) {
		if fd := m.Descriptor().Fields().ByName("location"); fd != nil && fd.Kind() == protoreflect.Int32Kind {
			m.Clear(fd)
		}
	})
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return nil
	}
	return out
}

// matchingLocation walks two trees of the same shape side by side and
// returns b's location where a's is at; -1 if a has none there.
func matchingLocation(a, b protoreflect.Message, at int) int {
	fields := a.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		switch {
		case fd.Name() == "location" && fd.Kind() == protoreflect.Int32Kind:
			if int(a.Get(fd).Int()) == at {
				return int(b.Get(fd).Int())
			}
		case fd.Kind() != protoreflect.MessageKind || fd.IsMap():
		case fd.IsList():
			la, lb := a.Get(fd).List(), b.Get(fd).List()
			for j := 0; j < la.Len() && j < lb.Len(); j++ {
				if off := matchingLocation(la.Get(j).Message(), lb.Get(j).Message(), at); off >= 0 {
					return off
				}
			}
		case a.Has(fd) && b.Has(fd):
			if off := matchingLocation(a.Get(fd).Message(), b.Get(fd).Message(), at); off >= 0 {
				return off
			}
		}
	}
	return -1
}
