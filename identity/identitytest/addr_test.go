package identitytest_test

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/identitytest"
)

func TestStartServerAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	free := ln.Addr().String()
	require.NoError(t, ln.Close())

	srv := identitytest.NewUnstartedServer(identitytest.Options{Addr: free})
	require.NoError(t, srv.Start())
	defer srv.Close()
	assert.Equal(t, "http://"+free, srv.URL)

	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:80", "example.com:80", "localhost@evil.com:80", "[::]:0", "nonsense", free} {
		t.Run(addr, func(t *testing.T) {
			for name, start := range map[string]func(*identitytest.Server) error{"Start": (*identitytest.Server).Start, "StartTLS": (*identitytest.Server).StartTLS} {
				u := identitytest.NewUnstartedServer(identitytest.Options{Addr: addr})
				err := start(u)
				require.Error(t, err, name)
				assert.True(t, strings.HasPrefix(err.Error(), "identitytest: "), err.Error())
				assert.Empty(t, u.URL, name)
				u.Close() // a server that never started closes without effect
			}
		})
	}
}

func TestStartTwice(t *testing.T) {
	tests := []struct {
		name   string
		first  func(*identitytest.Server) error
		second func(*identitytest.Server) error
	}{
		{"Start, Start", (*identitytest.Server).Start, (*identitytest.Server).Start},
		{"Start, StartTLS", (*identitytest.Server).Start, (*identitytest.Server).StartTLS},
		{"StartTLS, Start", (*identitytest.Server).StartTLS, (*identitytest.Server).Start},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := identitytest.NewUnstartedServer(identitytest.Options{})
			require.NoError(t, tt.first(srv))
			defer srv.Close()
			url := srv.URL
			err := tt.second(srv)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "already started")
			assert.Equal(t, url, srv.URL)
			resp, err := srv.Client().Get(srv.ChatGPTBaseURL + "/ps/mcp")
			require.NoError(t, err, "the first start still serves")
			_ = resp.Body.Close()
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		})
	}
}
