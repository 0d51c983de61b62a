package identitytest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// TestWaitIdle: WaitIdle returns once every request has been handled and
// recorded, and not before; a context bounds it.
func TestWaitIdle(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	recorded := make(chan identitytest.Exchange, 1)
	first := true
	srv := identitytest.NewUnstartedServer(identitytest.Options{OnRequest: func(e identitytest.Exchange) {
		if first {
			first = false
			close(entered)
			<-release
		}
		recorded <- e
	}})
	require.NoError(t, srv.Start())
	defer srv.Close()
	require.NoError(t, srv.WaitIdle(context.Background()), "idle before any request")

	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(srv.ChatGPTBaseURL + "/wham/agent-identities/jwks")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-entered
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, srv.WaitIdle(short), context.DeadlineExceeded, "a request is still being handled")
	close(release)
	require.NoError(t, srv.WaitIdle(context.Background()))
	select {
	case e := <-recorded:
		assert.Equal(t, "/backend-api/wham/agent-identities/jwks", e.Path)
	default:
		t.Fatal("WaitIdle returned before the exchange was recorded")
	}
	require.NoError(t, <-done)
}
