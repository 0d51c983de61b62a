package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotRegular is wrapped by the errors of OpenRegular and WriteFile when the
// path names a symbolic link, a directory or another non-regular file.
var ErrNotRegular = errors.New("atomicfile: not a regular file")

// DefaultPerm is the mode of files written when Options.Perm is zero.
const DefaultPerm fs.FileMode = 0o600

// Stage names one step of WriteFile, for Options.FailHook.
type Stage int

// The steps of WriteFile, in order.
const (
	StageCreate  Stage = iota + 1 // create the temporary file
	StageWrite                    // write the data
	StageSync                     // fsync the temporary file
	StageClose                    // close the temporary file
	StageRename                   // rename it over the target
	StageSyncDir                  // fsync the folder
)

// String returns the lower-case name of the stage.
func (s Stage) String() string {
	switch s {
	case StageCreate:
		return "create"
	case StageWrite:
		return "write"
	case StageSync:
		return "sync"
	case StageClose:
		return "close"
	case StageRename:
		return "rename"
	case StageSyncDir:
		return "sync folder"
	}
	return fmt.Sprintf("Stage(%d)", int(s))
}

// Options tune WriteFile. The zero value is ready to use.
type Options struct {
	// Perm is the mode of the written file; zero means DefaultPerm.
	Perm fs.FileMode
	// FailHook, if not nil, is called before each stage; a non-nil error
	// makes that stage fail as if the system call had returned it. It exists
	// so tests can simulate a full disk or a read-only folder.
	FailHook func(Stage) error
}

// TempPrefix returns the name prefix of the temporary files WriteFile creates
// beside path, so that a caller holding a lock may remove ones left behind by
// a crashed writer.
func TempPrefix(path string) string {
	return "." + filepath.Base(path) + ".tmp-"
}

// WriteFile atomically replaces the file at path with data. The path must
// not name a symbolic link or a non-regular file (ErrNotRegular); a missing
// file is created. The folder must exist. On any error the previous file is
// left intact and the temporary file is removed.
//
// WriteFile does not serialise concurrent writers: two writers race and one
// of the complete contents wins. Callers needing read-modify-write hold a
// lock around it.
func WriteFile(path string, data []byte, opts *Options) (err error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Perm == 0 {
		o.Perm = DefaultPerm
	}
	hook := func(s Stage) error {
		if o.FailHook == nil {
			return nil
		}
		return o.FailHook(s)
	}
	if err := checkTarget(path); err != nil {
		return err
	}
	dir := filepath.Dir(path)

	if err := hook(StageCreate); err != nil {
		return stageError(StageCreate, path, err)
	}
	tmp, err := os.CreateTemp(dir, TempPrefix(path)+"*")
	if err != nil {
		return stageError(StageCreate, path, err)
	}
	tmpName := tmp.Name()
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = tmp.Close()
			}
			_ = os.Remove(tmpName)
		}
	}()
	// CreateTemp already uses 0600; set the exact mode in case Perm differs
	// or a umask-free mode is wanted.
	if err := tmp.Chmod(o.Perm); err != nil {
		return stageError(StageCreate, path, err)
	}
	if err := hook(StageWrite); err != nil {
		return stageError(StageWrite, path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return stageError(StageWrite, path, err)
	}
	if err := hook(StageSync); err != nil {
		return stageError(StageSync, path, err)
	}
	if err := tmp.Sync(); err != nil {
		return stageError(StageSync, path, err)
	}
	if err := hook(StageClose); err != nil {
		return stageError(StageClose, path, err)
	}
	closed = true
	if err := tmp.Close(); err != nil {
		return stageError(StageClose, path, err)
	}
	// Check again just before the rename to narrow the window in which a
	// symbolic link could be put in place; rename itself never writes through
	// a link (it replaces the link), so the link's target is never touched.
	if err := checkTarget(path); err != nil {
		return err
	}
	if err := hook(StageRename); err != nil {
		return stageError(StageRename, path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return stageError(StageRename, path, err)
	}
	if err := hook(StageSyncDir); err != nil {
		// The new content is in place; report that durability is unknown.
		return stageError(StageSyncDir, path, err)
	}
	if err := syncDir(dir); err != nil {
		return stageError(StageSyncDir, path, err)
	}
	return nil
}

func stageError(s Stage, path string, err error) error {
	return fmt.Errorf("atomicfile: %s %s: %w", s, filepath.Base(path), err)
}

// checkTarget refuses a path that exists and is not a regular file.
func checkTarget(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return notRegular(path, fi.Mode())
	}
	return nil
}

func notRegular(path string, m fs.FileMode) error {
	kind := "not a regular file"
	switch {
	case m&fs.ModeSymlink != 0:
		kind = "a symbolic link"
	case m.IsDir():
		kind = "a directory"
	}
	return fmt.Errorf("%w: %s is %s", ErrNotRegular, filepath.Base(path), kind)
}

// OpenRegular opens path for reading without following a symbolic link in
// its last element and without blocking on a FIFO. It refuses anything but a
// regular file with an error wrapping ErrNotRegular; a missing file gives an
// error wrapping fs.ErrNotExist. The caller closes the file.
func OpenRegular(path string) (*os.File, fs.FileInfo, error) {
	f, err := openNoFollow(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
		if isLoop(err) {
			return nil, nil, notRegular(path, fs.ModeSymlink)
		}
		return nil, nil, fmt.Errorf("atomicfile: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("atomicfile: %w", err)
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, nil, notRegular(path, fi.Mode())
	}
	return f, fi, nil
}

// Tighten removes from f's mode every permission bit outside perm, so an
// existing looser file (0644) becomes private. It reports whether it
// changed the mode.
func Tighten(f *os.File, perm fs.FileMode) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("atomicfile: %w", err)
	}
	mode := fi.Mode().Perm()
	if mode&^perm == 0 {
		return false, nil
	}
	if err := f.Chmod(mode & perm); err != nil {
		return false, fmt.Errorf("atomicfile: tighten mode: %w", err)
	}
	return true, nil
}

// RemoveStaleTemps removes temporary files WriteFile left beside path when a
// writer crashed. Call it only while holding the lock that serialises
// writers of path, or a live writer's temporary file may be removed.
func RemoveStaleTemps(path string) error {
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	prefix := TempPrefix(path)
	var first error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || !e.Type().IsRegular() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && first == nil && !errors.Is(err, fs.ErrNotExist) {
			first = fmt.Errorf("atomicfile: %w", err)
		}
	}
	return first
}
