package workload

import "sync"

// Claims records which worker was told it got which resource (a seat, a
// ride, a player), to count the resources promised to more than one. Each
// call is atomic on its own; what races is a caller's check followed by its
// claim, as with any database read followed by a write.
type Claims struct {
	mu     sync.Mutex
	owner  map[int]int   // resource -> last claimant
	claims map[int][]int // resource -> every claimant told "yours"
}

// NewClaims returns an empty record.
func NewClaims() *Claims {
	return &Claims{owner: make(map[int]int), claims: make(map[int][]int)}
}

// Free reports whether nobody has claimed resource yet.
func (c *Claims) Free(resource int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, taken := c.owner[resource]
	return !taken
}

// Claim records that claimant was told resource is theirs.
func (c *Claims) Claim(resource, claimant int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.owner[resource] = claimant
	c.claims[resource] = append(c.claims[resource], claimant)
}

// Doubles counts the claims beyond the first of each resource: each one is a
// promise that cannot be kept.
func (c *Claims) Doubles() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, who := range c.claims {
		n += len(who) - 1
	}
	return n
}
