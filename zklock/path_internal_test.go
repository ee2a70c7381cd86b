package zklock

import (
	"strings"
	"testing"
)

func TestEscapeKeyIsReversibleAndStorable(t *testing.T) {
	for _, key := range []string{
		"plain", "a/b", "/", "//", ".", "..", "...", "zookeeper", "zookeeperx", "%", "%2F", "a%2Fb",
		"tab\there", "nul\x00byte", "del\x7f", "c1\u0085", "private\uf000use", "special\ufff0", "bom\ufeff",
		"replacement\ufffd", "日本語/キー", "emoji 🔒",
	} {
		e := escapeKey(key)
		if strings.Contains(e, "/") {
			t.Errorf("escapeKey(%q) = %q contains '/'", key, e)
		}
		switch e {
		case "", ".", "..", "zookeeper":
			t.Errorf("escapeKey(%q) = %q, a name ZooKeeper reserves", key, e)
		}
		for _, r := range e {
			if !storable(r) {
				t.Errorf("escapeKey(%q) = %q keeps %U, which ZooKeeper refuses", key, e, r)
			}
		}
		back, err := unescapeKey(e)
		if err != nil || back != key {
			t.Errorf("unescapeKey(escapeKey(%q)) = %q, %v", key, back, err)
		}
	}
	if escapeKey("a/b") == escapeKey("a%2Fb") {
		t.Error("two keys escape to the same element")
	}
}

func TestValidateRoot(t *testing.T) {
	for _, root := range []string{"/", "/a", "/a/b", "/racefree/locks"} {
		if err := validateRoot(root); err != nil {
			t.Errorf("validateRoot(%q): %v", root, err)
		}
	}
	for _, root := range []string{"", "a", "/a/", "//a", "/a/./b", "/a/..", "/zookeeper", "/zookeeper/x", "/a\x01"} {
		if err := validateRoot(root); err == nil {
			t.Errorf("validateRoot(%q) accepted a bad root", root)
		}
	}
}

func TestQueueOrdersBySequence(t *testing.T) {
	got := queue([]string{
		"_c_bb-lock-0000000010", "junk", "_c_aa-lock-0000000002", "_c_cc-lock-0000000009", "x-lock-abc",
	})
	want := []string{"_c_aa-lock-0000000002", "_c_cc-lock-0000000009", "_c_bb-lock-0000000010"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("queue = %v, want %v", got, want)
	}
}
