// Package limitio reads from outside sources with a hard bound.
package limitio

import (
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is wrapped by the error ReadAll returns when the source holds
// more than the allowed number of bytes.
var ErrTooLarge = errors.New("too large")

// ReadAll reads r to its end, refusing anything longer than max bytes. It
// reads at most max+1 bytes, so a hostile source cannot make it allocate more.
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return b, nil
}
