package eventsource

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Event is one recorded fact of a stream.
type Event struct {
	// Stream names the stream the event belongs to.
	Stream string `json:"-"`
	// Version is the event's position in its stream, from 1.
	Version uint64 `json:"-"`
	// Type names the kind of event, e.g. "RoomBooked".
	Type string `json:"type"`
	// Data is the event's payload, JSON-encoded.
	Data json.RawMessage `json:"data,omitempty"`
	// Command is the id of the command that produced the event, if any.
	Command string `json:"-"`
	// At is when the event was appended, as the appender's clock said.
	At time.Time `json:"at"`
}

// NewEvent builds an Event of type typ with data encoded as JSON.
func NewEvent(typ string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("eventsource: encode %s: %w", typ, err)
	}
	return Event{Type: typ, Data: raw}, nil
}

// Decode decodes e's payload into v.
func (e Event) Decode(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("eventsource: decode %s %s#%d: %w", e.Type, e.Stream, e.Version, err)
	}
	return nil
}

var (
	// ErrConflict means the stream was not at the expected version: someone
	// else appended first. Reload and decide again.
	ErrConflict = errors.New("eventsource: stream version conflict")

	// ErrInvalid rejects a stream name, command id or event the store cannot
	// keep.
	ErrInvalid = errors.New("eventsource: invalid input")
)

// maxNameLen bounds stream names and command ids, leaving room in the
// store's key for the prefix and batch number.
const maxNameLen = 200

func validateName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty %s", ErrInvalid, what)
	case len(name) > maxNameLen:
		return fmt.Errorf("%w: %s of %d bytes exceeds %d", ErrInvalid, what, len(name), maxNameLen)
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == '/' || r == unicode.ReplacementChar }):
		return fmt.Errorf("%w: %s %q has '/', a control character or invalid UTF-8", ErrInvalid, what, name)
	}
	return nil
}

// validateEvent refuses the i-th event of an append if the store could not
// keep it as given: no Type, a Type that is not valid UTF-8 (JSON would
// silently replace the bad bytes), or Data that is not valid UTF-8 JSON.
func validateEvent(i int, e Event) error {
	switch {
	case e.Type == "":
		return fmt.Errorf("%w: event %d has no type", ErrInvalid, i)
	case !utf8.ValidString(e.Type):
		return fmt.Errorf("%w: event %d has type %q, not valid UTF-8", ErrInvalid, i, e.Type)
	case len(e.Data) > 0 && (!json.Valid(e.Data) || !utf8.Valid(e.Data)):
		return fmt.Errorf("%w: event %d (%s) has data that is not valid UTF-8 JSON", ErrInvalid, i, e.Type)
	}
	return nil
}
