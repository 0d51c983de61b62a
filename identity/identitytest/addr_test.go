package identitytest_test

import (
	"net"
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

	srv, err := identitytest.StartServer(identitytest.Options{Addr: free})
	require.NoError(t, err)
	defer srv.Close()
	assert.Equal(t, "http://"+free, srv.URL)

	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:80", "example.com:80", "localhost@evil.com:80", "[::]:0", "nonsense", free} {
		t.Run(addr, func(t *testing.T) {
			_, err := identitytest.StartServer(identitytest.Options{Addr: addr})
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "identitytest: "), err.Error())
		})
	}
}
