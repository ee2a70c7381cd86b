package cas

import (
	"fmt"
	"unicode/utf8"
)

// DefaultMaxKeyLen is the longest key, in bytes, of a Store that declares no
// limit of its own. It is the value ValidateKey uses when given zero.
const DefaultMaxKeyLen = 512

// DefaultMaxValueSize is the largest value, in bytes, of a Store that declares
// no limit of its own (1 MiB). It is the value ValidateValue uses when given
// zero.
const DefaultMaxValueSize = 1 << 20

// ValidateKey returns an error wrapping ErrInvalidKey when key is empty, is
// longer than maxLen bytes (zero means DefaultMaxKeyLen), or is not valid
// UTF-8. Every Store calls it before any I/O; an adapter adds the checks of
// characters its backend cannot store.
func ValidateKey(key string, maxLen int) error {
	if maxLen <= 0 {
		maxLen = DefaultMaxKeyLen
	}
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	case len(key) > maxLen:
		return fmt.Errorf("%w: key of %d bytes exceeds the limit of %d", ErrInvalidKey, len(key), maxLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: key %q is not valid UTF-8", ErrInvalidKey, key)
	}
	return nil
}

// ValidateValue returns an error wrapping ErrValueTooLarge when value is
// longer than maxSize bytes (zero means DefaultMaxValueSize). Every Store
// calls it before any I/O.
func ValidateValue(value []byte, maxSize int) error {
	if maxSize <= 0 {
		maxSize = DefaultMaxValueSize
	}
	if len(value) > maxSize {
		return fmt.Errorf("%w: value of %d bytes exceeds the limit of %d", ErrValueTooLarge, len(value), maxSize)
	}
	return nil
}
