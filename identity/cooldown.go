package identity

import (
	"errors"
	"sync"
	"time"
)

// bootstrapCooldownPeriod is how long a failed bootstrap is remembered.
const bootstrapCooldownPeriod = time.Hour

// maxCooldownEntries bounds the memory of failures; beyond it the oldest
// expire first.
const maxCooldownEntries = 1024

// cooldownKey names one bootstrap target.
type cooldownKey struct {
	accountID   string
	authAPIBase string
}

type cooldownEntry struct {
	since time.Time
	err   error
}

// bootstrapCooldown remembers bootstrap failures per (account id, AuthAPI
// base) for an hour. It is safe for concurrent use.
type bootstrapCooldown struct {
	now    func() time.Time
	period time.Duration

	mu      sync.Mutex
	entries map[cooldownKey]cooldownEntry
}

func newBootstrapCooldown(now func() time.Time) *bootstrapCooldown {
	if now == nil {
		now = time.Now
	}
	return &bootstrapCooldown{now: now, period: bootstrapCooldownPeriod, entries: map[cooldownKey]cooldownEntry{}}
}

// processBootstrapCooldown is the process-wide memory Load uses.
var processBootstrapCooldown = newBootstrapCooldown(time.Now)

// check returns a *BackoffError when a failure for key is
// remembered and younger than the period, else nil.
func (c *bootstrapCooldown) check(key cooldownKey) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil
	}
	now := c.now()
	until := e.since.Add(c.period)
	if !now.Before(until) {
		delete(c.entries, key)
		return nil
	}
	return &BackoffError{What: "agent identity bootstrap", Since: e.since, RetryAt: until, Err: e.err}
}

// record remembers err for key when it wraps ErrBootstrapUnavailable; other
// errors (a refused registration, a bad key) are not remembered. A cached
// error is not remembered again, so its hour is not extended.
func (c *bootstrapCooldown) record(key cooldownKey, err error) {
	if err == nil || !errors.Is(err, ErrBootstrapUnavailable) {
		return
	}
	var cached *BackoffError
	if errors.As(err, &cached) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.pruneLocked(now)
	c.entries[key] = cooldownEntry{since: now, err: err}
}

// forget drops the memory for key, after a successful bootstrap.
func (c *bootstrapCooldown) forget(key cooldownKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}

// pruneLocked drops expired entries and, if still full, the oldest one.
func (c *bootstrapCooldown) pruneLocked(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.since.Add(c.period)) {
			delete(c.entries, k)
		}
	}
	for len(c.entries) >= maxCooldownEntries {
		var oldest cooldownKey
		first := true
		var oldestAt time.Time
		for k, e := range c.entries {
			if first || e.since.Before(oldestAt) {
				oldest, oldestAt, first = k, e.since, false
			}
		}
		delete(c.entries, oldest)
	}
}
