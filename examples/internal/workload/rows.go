package workload

import "sync"

// Rows is an in-memory table of integers by id (the stock of items, the
// balances of accounts). Each call is atomic on its own, like one SQL
// statement; what races is a caller's sequence of calls.
type Rows struct {
	mu sync.Mutex
	n  []int
}

// NewRows returns rows ids 0 to rows-1, each holding n.
func NewRows(rows, n int) *Rows {
	r := &Rows{n: make([]int, rows)}
	for i := range r.n {
		r.n[i] = n
	}
	return r
}

// Get reads row id.
func (r *Rows) Get(id int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[id]
}

// Set writes row id.
func (r *Rows) Set(id, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n[id] = n
}

// Add adds delta to row id in one step, like UPDATE ... SET n = n + ?.
func (r *Rows) Add(id, delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n[id] += delta
}

// All reads every row, by id.
func (r *Rows) All() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.n...)
}
