// Package apisurface holds the test that counts the module's public API (the
// exported top-level types, funcs, consts and vars, and the exported methods
// of exported types, of every non-internal library package) and keeps it
// within the budget the project set itself. It has no non-test code.
package apisurface
