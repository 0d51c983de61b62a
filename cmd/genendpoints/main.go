// Command genendpoints generates urlmap_gen.go, the static endpoint lookup of
// package agentidentity, from endpoints.toml.
//
// Usage, from the repository root:
//
//	go run ./cmd/genendpoints [-in endpoints.toml] [-out urlmap_gen.go] [-check]
//
// Without -check it writes the output file, and only when its bytes change.
// With -check it writes nothing: it exits 0 silently when the output file is
// up to date and 1, naming the stale file, when it is not. A bad endpoints
// file exits 1 with one "file:line: key: message" line per problem.
//
// The generator lives in package gen and never imports the package it writes
// into, so a broken urlmap_gen.go cannot stop its own repair.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/agentidentity/agentidentity/gen"
	"github.com/agentidentity/agentidentity/internal/limitio"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stderr io.Writer) int {
	fl := flag.NewFlagSet("genendpoints", flag.ContinueOnError)
	fl.SetOutput(stderr)
	in := fl.String("in", "endpoints.toml", "endpoints `file` to read")
	out := fl.String("out", "urlmap_gen.go", "Go `file` to write")
	check := fl.Bool("check", false, "write nothing; exit 1 if the output file is stale")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "genendpoints: unexpected argument %q\n", fl.Arg(0))
		return 2
	}
	want, err := generate(*in)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	have, err := os.ReadFile(*out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "genendpoints: %v\n", err)
		return 1
	}
	if err == nil && bytes.Equal(have, want) {
		return 0
	}
	if *check {
		if err != nil {
			fmt.Fprintf(stderr, "genendpoints: %s is missing; run go generate ./...\n", *out)
		} else {
			fmt.Fprintf(stderr, "genendpoints: %s is stale (does not match %s); run go generate ./...\n", *out, *in)
		}
		return 1
	}
	if err := writeFile(*out, want); err != nil {
		fmt.Fprintf(stderr, "genendpoints: %v\n", err)
		return 1
	}
	return 0
}

// generate reads and parses the endpoints file and returns the generated
// source. Parse errors are returned as they are ("file:line: key: message").
func generate(in string) ([]byte, error) {
	f, err := os.Open(in)
	if err != nil {
		return nil, fmt.Errorf("genendpoints: %w", err)
	}
	defer f.Close()
	data, err := limitio.ReadAll(f, gen.MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("genendpoints: reading %s: %w", in, err)
	}
	t, err := gen.Parse(in, data)
	if err != nil {
		return nil, err
	}
	src, err := gen.Generate(t)
	if err != nil {
		return nil, fmt.Errorf("genendpoints: %w", err)
	}
	return src, nil
}

// writeFile replaces name with data atomically: a temporary file in the same
// folder, synced, then renamed over name.
func writeFile(name string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".genendpoints-*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
