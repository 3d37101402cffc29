// Package static holds the console's assets: the stylesheet, a small script, and
// htmx 2.0.11 vendored from npm (htmx.org@2). They are embedded into the binary
// and served under a URL that carries their content hash, so browsers may cache
// them for a year and still see a new version the moment it ships.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"sort"
)

//go:embed *.css *.js *.svg
var files embed.FS

// FS is the embedded asset tree.
func FS() fs.FS { return files }

// Version returns a short hash of every embedded asset; it changes whenever any
// asset changes and is part of each asset URL.
func Version() string {
	h := sha256.New()
	entries, _ := fs.ReadDir(files, ".")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		b, _ := files.ReadFile(n)
		h.Write([]byte(n))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
