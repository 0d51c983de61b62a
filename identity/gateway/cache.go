package gateway

import (
	"crypto/ed25519"
	"sync"
	"sync/atomic"
	"time"
)

// Cache bounds used when the Verifier's fields are zero (documented on
// Verifier.CacheEntries).
const (
	// defaultCacheEntries is the most headers a Verifier remembers.
	defaultCacheEntries = 4096
	// defaultCacheBytes bounds the bytes a Verifier's cache accounts for
	// (header bytes plus a fixed per-entry overhead).
	defaultCacheBytes = 8 << 20
	// cacheEntryOverhead is what an entry costs beside its header bytes:
	// the entry, the ids, map and ring slots.
	cacheEntryOverhead = 256
	// maxCacheBytes is the largest CacheBytes a Verifier accepts
	// (documented on Verifier.CacheEntries).
	maxCacheBytes = 1 << 30
	// minRing is the ring's first length; it doubles as entries come, up
	// to the entry bound, so that no bound allocates more than is used.
	minRing = 64
)

// CacheStats is a snapshot of a Verifier's cache accounting.
type CacheStats struct {
	// Entries and Bytes are what the cache holds now; they never exceed
	// MaxEntries and MaxBytes.
	Entries, MaxEntries int
	Bytes, MaxBytes     int64
	// Hits, Misses and Evictions count since the Verifier's first use.
	Hits, Misses, Evictions uint64
}

// cacheEntry is a header whose signature verified for pub.
type cacheEntry struct {
	header    string
	runtimeID string
	taskID    string
	ts        time.Time
	pub       [ed25519.PublicKeySize]byte
}

// size is what e counts against the byte bound.
func (e *cacheEntry) size() int64 {
	return int64(len(e.header)+len(e.runtimeID)+len(e.taskID)) + cacheEntryOverhead
}

// verifyCache remembers verified headers by their full bytes, evicting the
// oldest first (FIFO: a hit does not move an entry, so lookups take only the
// read lock). It is safe for concurrent use.
type verifyCache struct {
	maxEntries int
	maxBytes   int64
	maxSkew    time.Duration

	mu      sync.RWMutex
	m       map[string]*cacheEntry
	ring    []*cacheEntry // FIFO of insertion; grows up to maxEntries
	head, n int
	bytes   int64

	hits, misses, evictions atomic.Uint64
}

// newVerifyCache returns a cache of at most maxEntries entries and maxBytes
// bytes (both more than 0). An entry costs at least cacheEntryOverhead
// bytes, so the entry bound is never above maxBytes/cacheEntryOverhead, and
// the ring and map grow with use: the memory held follows what is cached,
// never the bounds alone.
func newVerifyCache(maxEntries int, maxBytes int64, maxSkew time.Duration) *verifyCache {
	if byBytes := maxBytes / cacheEntryOverhead; int64(maxEntries) > byBytes {
		maxEntries = int(byBytes)
	}
	return &verifyCache{
		maxEntries: maxEntries, maxBytes: maxBytes, maxSkew: maxSkew,
		m:    make(map[string]*cacheEntry),
		ring: make([]*cacheEntry, min(maxEntries, minRing)),
	}
}

func (c *verifyCache) get(header string) *cacheEntry {
	c.mu.RLock()
	e := c.m[header]
	c.mu.RUnlock()
	return e
}

func (c *verifyCache) count(hit bool) {
	if hit {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
}

// put adds e unless an entry of that header is there or e alone exceeds the
// byte bound; it first drops entries whose window has closed, then the
// oldest until e fits.
func (c *verifyCache) put(e *cacheEntry, now time.Time) {
	size := e.size()
	if size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[e.header]; ok {
		return
	}
	oldest := now.Truncate(time.Second).Add(-c.maxSkew)
	var evicted uint64
	for c.n > 0 && (c.n == c.maxEntries || c.bytes+size > c.maxBytes || c.ring[c.head].ts.Before(oldest)) {
		old := c.ring[c.head]
		c.ring[c.head] = nil
		c.head = (c.head + 1) % len(c.ring)
		c.n--
		delete(c.m, old.header)
		c.bytes -= old.size()
		evicted++
	}
	if c.n == len(c.ring) { // full below maxEntries: grow
		grown := make([]*cacheEntry, min(2*len(c.ring), c.maxEntries))
		for i := range c.n {
			grown[i] = c.ring[(c.head+i)%len(c.ring)]
		}
		c.ring, c.head = grown, 0
	}
	c.ring[(c.head+c.n)%len(c.ring)] = e
	c.n++
	c.m[e.header] = e
	c.bytes += size
	if evicted > 0 {
		c.evictions.Add(evicted)
	}
}

func (c *verifyCache) stats() CacheStats {
	c.mu.RLock()
	s := CacheStats{Entries: len(c.m), MaxEntries: c.maxEntries, Bytes: c.bytes, MaxBytes: c.maxBytes}
	c.mu.RUnlock()
	s.Hits, s.Misses, s.Evictions = c.hits.Load(), c.misses.Load(), c.evictions.Load()
	return s
}
