package zklock

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/racefree/racefree/lock"
)

// Lock nodes are named like Apache Curator's protected nodes:
// "_c_<guid>-lock-<sequence>". The guid lets a create whose reply was lost be
// found again; the sequence, appended by the server, orders the queue.
const (
	protectedPrefix = "_c_"
	lockMarker      = "-lock-"
)

// escapeKey maps key to one ZooKeeper path element, reversibly: '%', '/' and
// every character ZooKeeper refuses in a path (controls, U+007F–U+009F,
// U+F000–U+F8FF, U+FFF0–U+FFFF) become %XX for each of their UTF-8 bytes, and
// the names ".", ".." and "zookeeper" get their first byte escaped. key must be
// valid UTF-8 (lock.Client checks it).
func escapeKey(key string) string {
	var b strings.Builder
	for i, r := range key {
		if r == '%' || r == '/' || !storable(r) {
			for j := i; j < i+utf8.RuneLen(r); j++ {
				fmt.Fprintf(&b, "%%%02X", key[j])
			}
			continue
		}
		b.WriteRune(r)
	}
	s := b.String()
	switch s {
	case ".", "..", "zookeeper":
		s = fmt.Sprintf("%%%02X", s[0]) + s[1:]
	}
	return s
}

// unescapeKey is the inverse of escapeKey.
func unescapeKey(element string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(element); i++ {
		if element[i] != '%' {
			b.WriteByte(element[i])
			continue
		}
		if i+2 >= len(element) {
			return "", fmt.Errorf("%w: truncated escape in %q", lock.ErrInvalidKey, element)
		}
		v, err := strconv.ParseUint(element[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("%w: bad escape in %q", lock.ErrInvalidKey, element)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// storable reports whether ZooKeeper accepts r in a path element
// (org.apache.zookeeper.common.PathUtils.validatePath).
func storable(r rune) bool {
	switch {
	case r <= 0x1f, r >= 0x7f && r <= 0x9f, r >= 0xd800 && r <= 0xf8ff, r >= 0xfff0 && r <= 0xffff:
		return false
	}
	return true
}

// validateRoot checks that root is an absolute ZooKeeper path that zklock may
// create nodes under.
func validateRoot(root string) error {
	if root == "/" {
		return nil
	}
	if !strings.HasPrefix(root, "/") {
		return fmt.Errorf("root %q is not an absolute path", root)
	}
	if root == "/zookeeper" || strings.HasPrefix(root, "/zookeeper/") {
		return fmt.Errorf("root %q is inside ZooKeeper's reserved /zookeeper tree", root)
	}
	for _, e := range strings.Split(root[1:], "/") {
		if e == "" || e == "." || e == ".." {
			return fmt.Errorf("root %q has an empty, \".\" or \"..\" element", root)
		}
		for _, r := range e {
			if !storable(r) {
				return fmt.Errorf("root %q has the character %U, which ZooKeeper cannot store", root, r)
			}
		}
	}
	return nil
}

// join appends element to the absolute path dir.
func join(dir, element string) string {
	if dir == "/" {
		return "/" + element
	}
	return dir + "/" + element
}

// newGUID returns 32 random hex digits.
func newGUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// nodePrefix is the name of a lock node before the server appends the sequence.
func nodePrefix(guid string) string { return protectedPrefix + guid + lockMarker }

// sequence returns the sequence number of a lock node's name.
func sequence(name string) (int64, bool) {
	i := strings.LastIndex(name, lockMarker)
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(name[i+len(lockMarker):], 10, 64)
	return n, err == nil
}

// queue returns the lock nodes among children, in grant order; other children
// are ignored.
func queue(children []string) []string {
	type entry struct {
		name string
		seq  int64
	}
	entries := make([]entry, 0, len(children))
	for _, c := range children {
		if seq, ok := sequence(c); ok {
			entries = append(entries, entry{c, seq})
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].seq < entries[j].seq })
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.name
	}
	return names
}

// findGUID returns the child created with guid, if there is one.
func findGUID(children []string, guid string) (string, bool) {
	prefix := nodePrefix(guid)
	for _, c := range children {
		if strings.HasPrefix(c, prefix) {
			return c, true
		}
	}
	return "", false
}
