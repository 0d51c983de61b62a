//go:build unix

package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name     string
		existing *fs.FileMode // nil: no file
		perm     fs.FileMode
		wantPerm fs.FileMode
	}{
		{"new file", nil, 0, 0o600},
		{"replace private file", ptr(0o600), 0, 0o600},
		{"replace loose file", ptr(0o644), 0, 0o600},
		{"replace world-writable file", ptr(0o666), 0, 0o600},
		{"explicit mode", nil, 0o640, 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.json")
			if tt.existing != nil {
				require.NoError(t, os.WriteFile(path, []byte("old"), *tt.existing))
				require.NoError(t, os.Chmod(path, *tt.existing))
			}
			require.NoError(t, WriteFile(path, []byte("new"), &Options{Perm: tt.perm}))
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, "new", string(data))
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, tt.wantPerm, fi.Mode().Perm())
			entries, err := os.ReadDir(filepath.Dir(path))
			require.NoError(t, err)
			assert.Len(t, entries, 1, "no temporary file left")
		})
	}
}

func ptr(m fs.FileMode) *fs.FileMode { return &m }

func TestWriteFileRefusesNonRegular(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		kind  string
	}{
		{"symlink", func(t *testing.T, path string) {
			target := filepath.Join(t.TempDir(), "target")
			require.NoError(t, os.WriteFile(target, []byte("target"), 0o644))
			require.NoError(t, os.Symlink(target, path))
		}, "a symbolic link"},
		{"directory", func(t *testing.T, path string) { require.NoError(t, os.Mkdir(path, 0o700)) }, "a directory"},
		{"fifo", func(t *testing.T, path string) { require.NoError(t, syscall.Mkfifo(path, 0o600)) }, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.json")
			tt.setup(t, path)
			err := WriteFile(path, []byte("new"), nil)
			require.ErrorIs(t, err, ErrNotRegular)
			assert.Contains(t, err.Error(), tt.kind)
			_, _, err = OpenRegular(path)
			require.ErrorIs(t, err, ErrNotRegular)
			assert.Contains(t, err.Error(), tt.kind)
			if tt.name == "symlink" {
				target, rerr := os.Readlink(path)
				require.NoError(t, rerr)
				data, rerr := os.ReadFile(target)
				require.NoError(t, rerr)
				assert.Equal(t, "target", string(data))
			}
		})
	}
}

func TestWriteFileFailuresKeepOldFile(t *testing.T) {
	for _, stage := range []Stage{StageCreate, StageWrite, StageSync, StageClose, StageRename} {
		t.Run(stage.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.json")
			require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
			err := WriteFile(path, []byte("new"), &Options{FailHook: func(s Stage) error {
				if s == stage {
					return syscall.ENOSPC
				}
				return nil
			}})
			require.ErrorIs(t, err, syscall.ENOSPC)
			assert.Contains(t, err.Error(), stage.String())
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, "old", string(data))
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, entries, 1, "temporary file removed")
		})
	}
	t.Run("sync folder", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "f.json")
		err := WriteFile(path, []byte("new"), &Options{FailHook: func(s Stage) error {
			if s == StageSyncDir {
				return syscall.EIO
			}
			return nil
		}})
		require.ErrorIs(t, err, syscall.EIO)
	})
	t.Run("missing folder", func(t *testing.T) {
		err := WriteFile(filepath.Join(t.TempDir(), "no", "f.json"), []byte("x"), nil)
		require.ErrorIs(t, err, fs.ErrNotExist)
	})
}

func TestOpenRegularAndTighten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	_, _, err := OpenRegular(path)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.NoError(t, os.WriteFile(path, []byte("x"), 0o644))
	require.NoError(t, os.Chmod(path, 0o644))
	f, fi, err := OpenRegular(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	assert.True(t, fi.Mode().IsRegular())
	changed, err := Tighten(f, 0o600)
	require.NoError(t, err)
	assert.True(t, changed)
	changed, err = Tighten(f, 0o600)
	require.NoError(t, err)
	assert.False(t, changed)
	fi, err = os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
}

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.json")
	for _, n := range []string{TempPrefix(path) + "123", TempPrefix(path) + "456", "other.tmp", "auth.json"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), nil, 0o600))
	}
	require.NoError(t, RemoveStaleTemps(path))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"auth.json", "other.tmp"}, names)
}

func TestStageString(t *testing.T) {
	for _, s := range []Stage{StageCreate, StageWrite, StageSync, StageClose, StageRename, StageSyncDir} {
		assert.NotContains(t, s.String(), "Stage(")
	}
	assert.Equal(t, "Stage(0)", Stage(0).String())
	assert.False(t, errors.Is(nil, ErrNotRegular))
	assert.True(t, strings.HasPrefix(TempPrefix("/a/auth.json"), ".auth.json"))
}
