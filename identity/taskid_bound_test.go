package identity_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentidentity/agentidentity/internal/ids"
	"github.com/agentidentity/agentidentity/internal/wire"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// TestTaskIDBoundEverywhere: a task id over 4096 bytes or with a
// control character is refused wherever it enters: every spelling of a
// registration answer, an opened sealed id, WithTaskID, and the signer; so
// no header larger than a verifier reads is ever made, and nothing of it is
// persisted.
func TestTaskIDBoundEverywhere(t *testing.T) {
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	signer, err := identity.NewSigner("agent-1", km.PrivateKeyPKCS8Base64)
	require.NoError(t, err)
	long := strings.Repeat("t", ids.MaxTaskIDLen+1)
	huge := strings.Repeat("t", 1<<20)
	c1 := "task\u0085x"
	longest := strings.Repeat("t", ids.MaxTaskIDLen)

	seal := func(id string) string {
		s, err := gateway.SealTaskID(signer.PublicKey(), id)
		require.NoError(t, err)
		return s
	}
	_, err = gateway.SealTaskID(signer.PublicKey(), long)
	require.ErrorIs(t, err, identity.ErrInvalidTaskID, "the sealer refuses it too")

	answers := []struct {
		name string
		body map[string]string
		ok   bool
	}{
		{"task_id at the limit", map[string]string{"task_id": longest}, true},
		{"task_id one byte over", map[string]string{"task_id": long}, false},
		{"task_id of 1 MiB", map[string]string{"task_id": huge}, false},
		{"taskId over", map[string]string{"taskId": long}, false},
		{"task_id with a C1 control", map[string]string{"task_id": c1}, false},
		{"encrypted_task_id at the limit", map[string]string{"encrypted_task_id": seal(longest)}, true},
		{"encryptedTaskId at the limit", map[string]string{"encryptedTaskId": seal(longest)}, true},
	}
	for _, tt := range answers {
		t.Run("registration answer "+tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = json.NewEncoder(w).Encode(tt.body)
			}))
			defer srv.Close()
			c := &identity.Client{AuthAPIBaseURL: srv.URL + "/api/accounts", MaxAttempts: 1}
			id, err := c.RegisterTask(context.Background(), signer)
			if tt.ok {
				require.NoError(t, err)
				assert.Len(t, id, ids.MaxTaskIDLen)
				h, err := signer.AuthorizationHeader(id, at2026())
				require.NoError(t, err)
				assert.LessOrEqual(t, len(h), wire.MaxAuthorizationHeaderLen)
				return
			}
			require.Error(t, err)
			assert.Empty(t, id)
			assert.NotContains(t, err.Error(), "tttttttttt", "the id is never quoted")
		})
	}

	for name, id := range map[string]string{"over the limit": long, "C1 control": c1, "DEL": "a\x7f", "NUL": "a\x00"} {
		t.Run("WithTaskID "+name, func(t *testing.T) {
			_, err := identity.NewRunAuth(signer, &identity.Client{AuthAPIBaseURL: "https://auth.example/api"}, identity.RunAuthOptions{TaskID: id})
			require.ErrorIs(t, err, identity.ErrInvalidTaskID)
		})
		t.Run("signer "+name, func(t *testing.T) {
			_, err := signer.AuthorizationHeader(id, at2026())
			require.ErrorIs(t, err, identity.ErrInvalidTaskID)
		})
	}
}

// TestStoredOverlongTaskIDIsNotReused: a record in auth.json whose task id
// breaks the rule (written by someone else) is not reused; a new task is
// registered for the run instead, saved in its place, and the file stays
// readable.
func TestStoredOverlongTaskIDIsNotReused(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
	ctx := context.Background()
	ra, err := f.load(ctx, 0, nil)
	require.NoError(t, err)
	_, err = ra.TaskID(ctx)
	require.NoError(t, err)
	tasks := f.srv.Stats().TasksRegistered

	rec := readAuth(t, f.home)["agent_identity"].(map[string]any)
	rec["task_id"] = strings.Repeat("t", ids.MaxTaskIDLen+1)
	writeMember(t, f.home, "agent_identity", rec)

	ra, err = f.load(ctx, 0, nil)
	require.NoError(t, err)
	task, err := ra.TaskID(ctx)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(task), ids.MaxTaskIDLen)
	assert.Equal(t, tasks+1, f.srv.Stats().TasksRegistered, "a new task instead of the broken one")
	stored := readAuth(t, f.home)["agent_identity"].(map[string]any)
	assert.Equal(t, task, stored["task_id"], "the new task replaces the broken one in auth.json")
	data, err := os.ReadFile(filepath.Join(f.home, "auth.json"))
	require.NoError(t, err)
	assert.Less(t, len(data), 1<<20)
}

func at2026() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
