package parser

import "sync"

// Cache remembers analyses by query text. It keeps two generations: when
// the current one is full it becomes the previous one and a new one starts,
// so frequently used statements survive and memory stays bounded.
type Cache struct {
	mu        sync.Mutex
	max       int
	cur, prev map[string]*Result
}

// NewCache returns a cache holding up to about 2*max analyses.
func NewCache(max int) *Cache {
	return &Cache{max: max, cur: map[string]*Result{}}
}

// Analyze returns the cached analysis of sql, analysing it on a miss. A
// plain INSERT of constants is read without pg_query faster than a lookup
// pays for, and its text, values included, rarely comes again: it is not
// kept.
func (c *Cache) Analyze(sql string) (*Result, error) {
	if r, ok := fastInsert(sql); ok {
		return r, nil
	}
	c.mu.Lock()
	if r, ok := c.cur[sql]; ok {
		c.mu.Unlock()
		return r, nil
	}
	if r, ok := c.prev[sql]; ok {
		c.put(sql, r)
		c.mu.Unlock()
		return r, nil
	}
	c.mu.Unlock()
	r, err := analyzeTree(sql)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.put(sql, r)
	c.mu.Unlock()
	return r, nil
}

// put stores a result, rotating generations when the current one is full.
func (c *Cache) put(sql string, r *Result) {
	if len(c.cur) >= c.max {
		c.prev, c.cur = c.cur, make(map[string]*Result, c.max)
	}
	c.cur[sql] = r
}
