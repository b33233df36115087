package host_test

import (
	"strings"
	"testing"

	"github.com/consilium-hq/consilium/sdk/host"
)

func TestVersionMismatchMessage(t *testing.T) {
	newer := (&host.VersionMismatchError{Plugin: "gmail", PluginVersion: 3, HostVersions: []int{1, 2}}).Error()
	if !strings.Contains(newer, "v3") || !strings.Contains(newer, "v1, v2") || !strings.Contains(newer, "upgrade Consilium") {
		t.Fatalf("newer plugin: %q", newer)
	}
	older := (&host.VersionMismatchError{Plugin: "gmail", PluginVersion: 1, HostVersions: []int{2}}).Error()
	if !strings.Contains(older, "v1") || !strings.Contains(older, "v2") || !strings.Contains(older, "rebuild the plugin") {
		t.Fatalf("older plugin: %q", older)
	}
}
