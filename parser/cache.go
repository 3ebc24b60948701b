package parser

import "sync"

// Cache remembers analyses by query text (see generations). A plain INSERT
// of constants is not kept (see Analyze).
type Cache struct {
	results generations[*Result]
}

// NewCache returns a cache holding up to about 2*max analyses.
func NewCache(max int) *Cache {
	return &Cache{results: newGenerations[*Result](max)}
}

// Analyze returns the cached analysis of sql, analysing it on a miss. A
// plain INSERT of constants is read without pg_query faster than a lookup
// pays for, and its text, values included, rarely comes again: it is not
// kept.
func (c *Cache) Analyze(sql string) (*Result, error) {
	if r, ok := fastInsert(sql); ok {
		return r, nil
	}
	return c.results.get(sql, analyzeTree)
}

// generations remembers values computed from texts. It keeps two
// generations: when the current one is full it becomes the previous one
// and a new one starts, so frequently used texts survive and memory stays
// bounded. It is safe for concurrent use.
type generations[V any] struct {
	mu        sync.Mutex
	max       int
	cur, prev map[string]V
}

func newGenerations[V any](max int) generations[V] {
	return generations[V]{max: max, cur: map[string]V{}}
}

// get returns the value remembered for text, computing it on a miss;
// errors are not remembered.
func (g *generations[V]) get(text string, compute func(string) (V, error)) (V, error) {
	g.mu.Lock()
	if v, ok := g.cur[text]; ok {
		g.mu.Unlock()
		return v, nil
	}
	if v, ok := g.prev[text]; ok {
		g.put(text, v)
		g.mu.Unlock()
		return v, nil
	}
	g.mu.Unlock()
	v, err := compute(text)
	if err != nil {
		return v, err
	}
	g.mu.Lock()
	g.put(text, v)
	g.mu.Unlock()
	return v, nil
}

// put stores a value, rotating generations when the current one is full.
func (g *generations[V]) put(text string, v V) {
	if len(g.cur) >= g.max {
		g.prev, g.cur = g.cur, make(map[string]V, g.max)
	}
	g.cur[text] = v
}
