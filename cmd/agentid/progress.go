package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

// waitThreshold is how long work may wait silently before it says what it
// waits for.
const waitThreshold = time.Second

// stdinNotice says on standard error that cmd reads what from standard
// input, when standard input is a terminal: a command that waits there in
// silence looks hung.
func (c *cli) stdinNotice(cmd *cobra.Command, what string) {
	if c.isTerminal(c.stdin) {
		fmt.Fprintf(c.stderr, "agentid: %s: reading %s from standard input (end it with Enter, then Ctrl-D)\n", commandName(cmd), what)
	}
}

// progressf prints a progress line on standard error when it is a
// terminal; in a log or a pipe the work stays quiet.
func (c *cli) progressf(cmd *cobra.Command, format string, a ...any) {
	if c.isTerminal(c.stderr) {
		fmt.Fprintf(c.stderr, "agentid: %s: %s\n", commandName(cmd), fmt.Sprintf(format, a...))
	}
}

// waitNotice watches one piece of work: if it is still running after
// waitThreshold and standard error is a terminal, it prints once what the
// work waits for, as describe says at that moment. The returned func ends
// the watch; it returns once no notice can be printed any more.
func (c *cli) waitNotice(cmd *cobra.Command, describe func() string) (stop func()) {
	if !c.isTerminal(c.stderr) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		timer := c.after(waitThreshold)
		select {
		case <-timer:
		case <-done:
			// Work that ended just as the threshold passed still waited
			// that long: say so.
			select {
			case <-timer:
			default:
				return
			}
		}
		fmt.Fprintf(c.stderr, "agentid: %s: still waiting for %s\n", commandName(cmd), describe())
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

// waitingFor returns a describe func for waitNotice that names what.
func waitingFor(what string) func() string { return func() string { return what } }
