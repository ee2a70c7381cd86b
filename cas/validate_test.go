package cas_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/racefree/racefree/cas"
)

func TestValidateKey(t *testing.T) {
	for _, c := range []struct {
		key    string
		maxLen int
		ok     bool
	}{
		{"k", 0, true},
		{"ключ/🔑", 0, true},
		{strings.Repeat("k", cas.DefaultMaxKeyLen), 0, true},
		{strings.Repeat("k", cas.DefaultMaxKeyLen+1), 0, false},
		{"abcd", 4, true},
		{"abcde", 4, false},
		{"", 0, false},
		{"\xff", 0, false},
	} {
		err := cas.ValidateKey(c.key, c.maxLen)
		if c.ok && err != nil {
			t.Errorf("ValidateKey(%q, %d) = %v, want nil", c.key, c.maxLen, err)
		}
		if !c.ok && !errors.Is(err, cas.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q, %d) = %v, want ErrInvalidKey", c.key, c.maxLen, err)
		}
	}
}

func TestValidateValue(t *testing.T) {
	if err := cas.ValidateValue(make([]byte, cas.DefaultMaxValueSize), 0); err != nil {
		t.Errorf("value of the default limit: %v", err)
	}
	if err := cas.ValidateValue(make([]byte, cas.DefaultMaxValueSize+1), 0); !errors.Is(err, cas.ErrValueTooLarge) {
		t.Errorf("value over the default limit: %v, want ErrValueTooLarge", err)
	}
	if err := cas.ValidateValue([]byte("12345"), 4); !errors.Is(err, cas.ErrValueTooLarge) {
		t.Errorf("value over a limit of 4: %v, want ErrValueTooLarge", err)
	}
	if err := cas.ValidateValue(nil, 4); err != nil {
		t.Errorf("nil value: %v", err)
	}
}
