// Package readmetest holds the test that runs every code block of the
// repository's README.md, so that the README stays true. It has no
// non-test code.
package readmetest
