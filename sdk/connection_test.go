package sdk

import (
	"reflect"
	"strings"
	"testing"
)

func TestSettingURLAndList(t *testing.T) {
	c := &Connection{Config: map[string]string{
		"base_url": "http://127.0.0.1:8080/api/", "bad_url": "ftp://x", "rel": "/api",
		"teams": " 1, ,2 ,",
	}}
	if got, err := c.SettingURL("base_url", "https://example.com"); err != nil || got != "http://127.0.0.1:8080/api" {
		t.Fatalf("base_url: %q, %v", got, err)
	}
	if got, err := c.SettingURL("missing", "https://api.example.com/v2"); err != nil || got != "https://api.example.com/v2" {
		t.Fatalf("default: %q, %v", got, err)
	}
	for _, key := range []string{"bad_url", "rel"} {
		_, err := c.SettingURL(key, "")
		if CodeOf(err) != CodeInvalidConfig || !strings.Contains(err.Error(), "config."+key) {
			t.Fatalf("%s: %v, want an invalid_config error naming config.%s", key, err, key)
		}
	}
	if got := c.SettingList("teams", ""); !reflect.DeepEqual(got, []string{"1", "2"}) {
		t.Fatalf("teams: %q", got)
	}
	if got := c.SettingList("missing", "a,b"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("default list: %q", got)
	}
	if got := SplitList(" , "); got != nil {
		t.Fatalf("empty list: %q", got)
	}
}
