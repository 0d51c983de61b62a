package limitio

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadAll(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		max     int64
		wantErr bool
	}{
		{"empty", 0, 10, false},
		{"under", 9, 10, false},
		{"exact", 10, 10, false},
		{"one over", 11, 10, true},
		{"far over", 1 << 20, 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ReadAll(bytes.NewReader(make([]byte, tt.size)), tt.max)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrTooLarge)
				return
			}
			require.NoError(t, err)
			require.Len(t, b, tt.size)
		})
	}
}
