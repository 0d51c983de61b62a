package identity_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// Wiring Load and Transport into an http.Client: every request to the
// ChatGPT backend then carries a fresh AgentAssertion. Here the backend is
// identitytest and $CODEX_HOME a temporary folder holding a ChatGPT login
// with the opt-in turned on.
func ExampleLoad() {
	srv := identitytest.NewServer()
	defer srv.Close()
	home, _ := os.MkdirTemp("", "codex-home")
	defer os.RemoveAll(home)
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
	_ = srv.WriteCodexHome(home, identitytest.CodexHomeOptions{Login: &login, UseAgentIdentity: true})
	ctx := context.Background()
	opts := identity.LoadOptions{CodexHome: home, Getenv: srv.Getenv(nil)}

	auth, err := identity.Load(ctx, opts)
	if err != nil {
		panic(err) // errors.Is(err, identity.ErrNoAgentIdentity): fall back to bearer auth
	}
	client := &http.Client{Transport: auth.Transport(nil)}

	resp, err := client.Post(srv.ChatGPTBaseURL+"/codex/responses", "application/json", strings.NewReader(`{}`))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	st := srv.Stats()
	fmt.Println("agents:", st.AgentsRegistered, "tasks:", st.TasksRegistered, "verified:", st.RequestsVerified)
	// Output:
	// 200 OK
	// agents: 1 tasks: 1 verified: 1
}

// Sessions get tasks of their own; a fork never inherits its parent's.
func ExampleRunAuth_ForkSession() {
	srv := identitytest.NewServer()
	defer srv.Close()
	token, _ := srv.MintAgentJWT(identitytest.JWTOptions{})
	home, _ := os.MkdirTemp("", "codex-home")
	defer os.RemoveAll(home)
	_ = srv.WriteCodexHome(home, identitytest.CodexHomeOptions{AgentJWT: token})
	ctx := context.Background()

	auth, err := identity.Load(ctx, identity.LoadOptions{CodexHome: home, Getenv: srv.Getenv(nil)})
	if err != nil {
		panic(err)
	}
	parent, _ := auth.ForSession("session-1").TaskID(ctx)
	child, _ := auth.ForkSession("session-1", "session-2")
	childTask, _ := child.TaskID(ctx)
	fmt.Println(parent != childTask)
	auth.EndSession("session-2")
	_, err = child.TaskID(ctx)
	fmt.Println(err)
	// Output:
	// true
	// identity: the session has ended
}
