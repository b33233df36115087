package field_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/sdk"
)

func TestKey(t *testing.T) {
	for _, s := range []string{"note", "clickup", "gmail-2", "my_app", "a", strings.Repeat("a", 63)} {
		if !field.ValidKey(s) {
			t.Errorf("ValidKey(%q) = false", s)
		}
	}
	for _, s := range []string{"", "Note", "2fa", "-x", "_x", "a b", "a.b", "a/b", "ü", "a\n", strings.Repeat("a", 64)} {
		if field.ValidKey(s) {
			t.Errorf("ValidKey(%q) = true", s)
		}
	}
	err := field.Key("source", "Click Up")
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Location != "source" {
		t.Fatalf("Key error = %#v", err)
	}
	if field.Key("source", "clickup") != nil {
		t.Fatal("Key refuses clickup")
	}
}

// A plugin's name is always a valid key: plugin names become task sources.
func TestKeyIsThePluginNameRule(t *testing.T) {
	for _, s := range []string{"", "a", "note", "Note", "2fa", "a-b_c9", "a b", "é", strings.Repeat("z", 63), strings.Repeat("z", 64), "a\x00"} {
		if field.ValidKey(s) != sdk.ValidName(s) {
			t.Errorf("%q: ValidKey %v, sdk.ValidName %v", s, field.ValidKey(s), sdk.ValidName(s))
		}
	}
}
