package parser

import "sync"

// Cache remembers analyses by query text (see generations). A plain INSERT
// of constants is not kept (see Analyze).
type Cache struct {
	results generations[*Result]
	// templates are Parameterize's rewritings by form (see literals).
	templates generations[*template]
}

// NewCache returns a cache holding up to about 2*max analyses, and as many
// forms of parameterized writes.
func NewCache(max int) *Cache {
	return &Cache{results: newGenerations[*Result](max), templates: newGenerations[*template](max)}
}

// Parameterize returns what Parameterize makes of sql, the query string of
// one statement (nil when it takes none); after the first query string of
// a form (see literals), without a parse. res is the analysis of sql when
// it was needed, for the caller to use (nil otherwise).
func (c *Cache) Parameterize(sql string) (p *Parameterized, res *Result, err error) {
	var spans []span
	if res, fast := scanInsert(sql, &spans); fast {
		// Read without pg_query already, and with its spans.
		p, _ = parameterizeFast(sql, res, spans)
		return p, res, nil
	}
	key, lits, tokenized := literals(sql)
	if tokenized {
		if t, ok := c.templates.lookup(key); ok {
			if p, ok := t.apply(sql, lits); ok {
				return p, nil, nil
			}
		}
	}
	if res, err = c.results.get(sql, analyzeTree); err != nil || len(res.Statements) != 1 {
		return nil, res, err
	}
	p, ok := parameterizeTree(sql, &res.Statements[0])
	if !ok {
		return nil, res, nil
	}
	if tokenized {
		if t, ok := learn(sql, lits, p); ok {
			c.templates.add(key, t)
		}
	}
	return p, res, nil
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
	if v, ok := g.lookup(text); ok {
		return v, nil
	}
	v, err := compute(text)
	if err != nil {
		return v, err
	}
	g.add(text, v)
	return v, nil
}

// lookup returns the value remembered for text, if any.
func (g *generations[V]) lookup(text string) (V, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if v, ok := g.cur[text]; ok {
		return v, true
	}
	v, ok := g.prev[text]
	if ok {
		g.put(text, v)
	}
	return v, ok
}

// add remembers v for text.
func (g *generations[V]) add(text string, v V) {
	g.mu.Lock()
	g.put(text, v)
	g.mu.Unlock()
}

// put stores a value, rotating generations when the current one is full.
func (g *generations[V]) put(text string, v V) {
	if len(g.cur) >= g.max {
		g.prev, g.cur = g.cur, make(map[string]V, g.max)
	}
	g.cur[text] = v
}
