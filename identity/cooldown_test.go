package identity

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func unavailable() error {
	return fmt.Errorf("%w: %w", ErrBootstrapUnavailable, &RegistrationError{Endpoint: "agent registration", StatusCode: 503, Retryable: true})
}

func TestBootstrapCooldown(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	key := cooldownKey{accountID: "acc", authAPIBase: "https://auth.openai.com/api/accounts"}
	tests := []struct {
		name    string
		run     func(c *bootstrapCooldown, clock *fakeClock)
		cached  bool
		checkAt cooldownKey
	}{
		{"nothing recorded", func(c *bootstrapCooldown, clock *fakeClock) {}, false, key},
		{"fresh failure", func(c *bootstrapCooldown, clock *fakeClock) { c.record(key, unavailable()) }, true, key},
		{"just under an hour", func(c *bootstrapCooldown, clock *fakeClock) {
			c.record(key, unavailable())
			clock.advance(time.Hour - time.Second)
		}, true, key},
		{"an hour later", func(c *bootstrapCooldown, clock *fakeClock) {
			c.record(key, unavailable())
			clock.advance(time.Hour)
		}, false, key},
		{"other error not remembered", func(c *bootstrapCooldown, clock *fakeClock) {
			c.record(key, &RegistrationError{StatusCode: 401})
		}, false, key},
		{"nil not remembered", func(c *bootstrapCooldown, clock *fakeClock) { c.record(key, nil) }, false, key},
		{"forgotten", func(c *bootstrapCooldown, clock *fakeClock) {
			c.record(key, unavailable())
			c.forget(key)
		}, false, key},
		{"other account", func(c *bootstrapCooldown, clock *fakeClock) { c.record(key, unavailable()) }, false,
			cooldownKey{accountID: "acc2", authAPIBase: key.authAPIBase}},
		{"other AuthAPI base", func(c *bootstrapCooldown, clock *fakeClock) { c.record(key, unavailable()) }, false,
			cooldownKey{accountID: "acc", authAPIBase: "https://auth.api.openai.org/api/accounts"}},
		{"cached error does not extend the hour", func(c *bootstrapCooldown, clock *fakeClock) {
			c.record(key, unavailable())
			clock.advance(59 * time.Minute)
			c.record(key, c.check(key))
			clock.advance(time.Minute)
		}, false, key},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: start}
			c := newBootstrapCooldown(clock.now)
			tt.run(c, clock)
			err := c.check(tt.checkAt)
			if !tt.cached {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			var cached *BackoffError
			require.ErrorAs(t, err, &cached)
			assert.ErrorIs(t, err, ErrBootstrapUnavailable)
			var reg *RegistrationError
			assert.ErrorAs(t, err, &reg)
			assert.Equal(t, start, cached.Since)
			assert.Equal(t, start.Add(time.Hour), cached.RetryAt)
			assert.Contains(t, err.Error(), "cached, retry after 2026-01-02T04:04:05Z")
			assert.Contains(t, err.Error(), "HTTP 503")
		})
	}
}

func TestBootstrapCooldownBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	c := newBootstrapCooldown(clock.now)
	for i := range maxCooldownEntries + 10 {
		clock.advance(time.Millisecond)
		c.record(cooldownKey{accountID: fmt.Sprint(i)}, unavailable())
	}
	assert.LessOrEqual(t, len(c.entries), maxCooldownEntries)
	assert.Error(t, c.check(cooldownKey{accountID: fmt.Sprint(maxCooldownEntries + 9)}), "newest kept")
	assert.NoError(t, c.check(cooldownKey{accountID: "0"}), "oldest dropped")
}

func TestBootstrapCooldownConcurrent(t *testing.T) {
	c := newBootstrapCooldown(nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			k := cooldownKey{accountID: fmt.Sprint(i % 3)}
			for range 200 {
				c.record(k, unavailable())
				if err := c.check(k); err != nil && !errors.Is(err, ErrBootstrapUnavailable) {
					t.Error(err)
				}
				c.forget(k)
			}
		})
	}
	wg.Wait()
	assert.NotNil(t, processBootstrapCooldown)
}
