package codexhome

// Account is the ChatGPT account a login or an agent identity belongs to.
// It is embedded, with these field names, wherever the module's client side
// holds an account: [ChatGPTLogin], [AgentIdentityRecord], the claims of an
// Agent Identity JWT (identity.Claims) and the fake backend's logins and
// tokens (identitytest).
//
// The JSON names in the tags are those of the Agent Identity JWT claims and
// of the auth.json agent_identity record. Each codec of the module maps the
// fields to its own wire names explicitly (the ChatGPT id token, for one,
// spells them chatgpt_account_id and chatgpt_plan_type), so the tags are
// documentation and what encoding/json uses for a struct embedding Account.
type Account struct {
	// AccountID is the ChatGPT account (workspace) id, sent as the
	// ChatGPT-Account-ID header.
	AccountID string `json:"account_id"`
	// UserID is the ChatGPT user id (chatgpt_user_id).
	UserID string `json:"chatgpt_user_id"`
	// Email is the user's email address; it may be empty.
	Email string `json:"email,omitempty"`
	// PlanType is the ChatGPT plan ("plus", "pro", "team", …).
	PlanType string `json:"plan_type"`
	// FedRAMP reports whether the account is a FedRAMP account, whose
	// requests carry "X-OpenAI-Fedramp: true".
	FedRAMP bool `json:"chatgpt_account_is_fedramp"`
}
