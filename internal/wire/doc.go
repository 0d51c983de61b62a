// Package wire holds what the client side (package identity) and the
// verifying side (package identity/gateway) share: the one encoder and the one
// parser of the AgentAssertion envelope and of the task registration body,
// the runtime-id and task-id rules and their limits, agent key parsing, the
// timestamp form and the range of clocks a verifier accepts.
//
// Nothing here touches the network or the file system. Public packages
// re-export the names their users need; the sentinel errors are the same
// values everywhere, so errors.Is works whichever package returned them.
package wire
