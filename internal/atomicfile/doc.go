// Package atomicfile replaces small private files atomically and opens them
// without following symbolic links.
//
// WriteFile writes to a temporary file in the target's folder, syncs it,
// renames it over the target and syncs the folder, so that a crash at any
// point leaves either the old or the new content, never a mix. The new file
// always has the requested mode (0600 by default). A symbolic link, a
// directory or any other non-regular file at the target path is refused
// rather than replaced or written through.
package atomicfile
