package importer

// fifo is a map bounded to n entries that forgets the oldest first: the
// importer's memory of recent Message-IDs and people, which replies
// mostly refer to.
type fifo[V any] struct {
	m    map[string]V
	ring []string
	next int
}

func newFIFO[V any](n int) *fifo[V] {
	return &fifo[V]{m: make(map[string]V, n), ring: make([]string, n)}
}

func (c *fifo[V]) get(k string) (V, bool) {
	v, ok := c.m[k]
	return v, ok
}

func (c *fifo[V]) put(k string, v V) {
	if _, ok := c.m[k]; ok {
		c.m[k] = v
		return
	}
	if old := c.ring[c.next]; old != "" {
		delete(c.m, old)
	}
	c.ring[c.next] = k
	c.next = (c.next + 1) % len(c.ring)
	c.m[k] = v
}
