package dynamocas

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/racefree/racefree/cas"
)

// TestClassify checks the decision taken from the item a failed condition
// saw, as real DynamoDB returns it with ALL_OLD (dynalite never returns it, so
// the conformance run there covers only the read-after-failure path).
func TestClassify(t *testing.T) {
	n := func(s string) types.AttributeValue { return &types.AttributeValueMemberN{Value: s} }
	tomb := &types.AttributeValueMemberBOOL{Value: true}
	for _, c := range []struct {
		name string
		saw  map[string]types.AttributeValue
		want error
	}{
		{"no item", nil, cas.ErrNotFound},
		{"tombstone at the version", map[string]types.AttributeValue{AttrVersion: n("3"), AttrDeleted: tomb}, cas.ErrNotFound},
		{"newer version", map[string]types.AttributeValue{AttrVersion: n("4")}, cas.ErrConflict},
		{"older version", map[string]types.AttributeValue{AttrVersion: n("2")}, cas.ErrConflict},
		{"only foreign attributes", map[string]types.AttributeValue{"fence": n("9")}, cas.ErrNotFound},
		{"live at the version", map[string]types.AttributeValue{AttrVersion: n("3")}, nil},
	} {
		got := classify(c.saw, 3)
		if c.want == nil && got != nil || c.want != nil && !errors.Is(got, c.want) {
			t.Errorf("%s: classify = %v, want %v", c.name, got, c.want)
		}
	}
	if err := classify(map[string]types.AttributeValue{AttrVersion: &types.AttributeValueMemberS{Value: "3"}}, 3); err == nil || errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrNotFound) {
		t.Errorf("a version of the wrong type: classify = %v, want a format error", err)
	}
}
