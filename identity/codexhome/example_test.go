package codexhome_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/agentidentity/agentidentity/identity/codexhome"
)

// ExampleStore_Update stores a task id in the agent identity record under
// the auth.json lock; every other member of the file is kept as it was.
func ExampleStore_Update() {
	home, err := os.MkdirTemp("", "codex-home-")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(home) }()

	store := codexhome.OpenStore(home)
	ctx := context.Background()
	err = store.Update(ctx, func(f *codexhome.AuthFile) error {
		rec := f.AgentIdentityRecord()
		if rec == nil {
			rec = &codexhome.AgentIdentityRecord{
				AgentRuntimeID:  "agent-123",
				AgentPrivateKey: codexhome.NewSecret("MC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH"),
				Account:         codexhome.Account{AccountID: "acc-123", UserID: "user-123", PlanType: "plus"},
			}
		}
		rec.TaskID = "task-123"
		return f.SetAgentIdentityRecord(rec)
	})
	if err != nil {
		log.Fatal(err)
	}

	f, err := store.Read()
	if err != nil {
		log.Fatal(err)
	}
	rec := f.AgentIdentityRecord()
	fmt.Println(rec.AgentRuntimeID, rec.TaskID, rec.AgentPrivateKey)
	fi, _ := os.Stat(store.Path())
	fmt.Println(fi.Mode().Perm())
	// Output:
	// agent-123 task-123 [REDACTED]
	// -rw-------
}

// ExampleLoadConfig reads the ChatGPT opt-in from config.toml.
func ExampleLoadConfig() {
	home, err := os.MkdirTemp("", "codex-home-")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(home) }()
	conf := "model = \"gpt-5-codex\"\n\n[features]\nuse_agent_identity = true\n"
	if err := os.WriteFile(home+"/config.toml", []byte(conf), 0o600); err != nil {
		log.Fatal(err)
	}
	cfg, err := codexhome.LoadConfig(home)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("use_agent_identity:", cfg.UseAgentIdentity)
	// Output: use_agent_identity: true
}

// ExampleSecret shows that a Secret never prints, logs or marshals its
// text; Reveal is the one way to read it.
func ExampleSecret() {
	key := codexhome.NewSecret("sk-example")
	login := struct {
		User string
		Key  codexhome.Secret
	}{"alice", key}
	out, _ := json.Marshal(login)

	fmt.Println(key)
	fmt.Printf("%+v %#v\n", login, &key)
	fmt.Println(string(out))
	fmt.Println(key.Reveal(), key.IsZero(), codexhome.Secret{}.IsZero())
	// Output:
	// [REDACTED]
	// {User:alice Key:[REDACTED]} [REDACTED]
	// {"User":"alice","Key":"[REDACTED]"}
	// sk-example false true
}
