package plugin

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consilium-hq/consilium/sdk"
)

// The conformance suite passes on the example plugin, run as the host runs
// it (what `consilium plugins check` does).
func TestCheckExamplePlugin(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "hello")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join("..", "..", "sdk", "examples", "hello")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build hello: %v\n%s", err, out)
	}
	report, err := Check(context.Background(), CheckParams{Path: bin})
	if err != nil {
		t.Fatal(err)
	}
	if report.Kind != sdk.KindIntegration || report.State.Manifest == nil || report.State.Manifest.Name != "hello" {
		t.Fatalf("report: %+v", report)
	}
	ran := 0
	for _, r := range report.Results {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Name, r.Err)
		}
		if r.Skipped == "" {
			ran++
		}
	}
	if !report.Passed() || ran < 5 {
		t.Fatalf("passed=%v with %d checks run", report.Passed(), ran)
	}
}

func TestCheckDetectsKindAndReportsFailures(t *testing.T) {
	t.Parallel()
	report, err := Check(context.Background(), CheckParams{Path: testBinaries.plugin, Kind: sdk.KindLLM})
	if err != nil {
		t.Fatal(err)
	}
	if report.Kind != sdk.KindLLM || !report.Passed() {
		t.Fatalf("llm check of the test plugin: %+v", report.Results)
	}
	_, err = Check(context.Background(), CheckParams{Path: testBinaries.proto2})
	if err == nil || !strings.Contains(err.Error(), "protocol v2") {
		t.Fatalf("check of a v2 plugin: %v", err)
	}
}

// The settings of CheckParams.Connection reach the Describe of the start:
// a plugin that needs a setting to describe itself (the llm plugin's
// provider) can be checked with --set.
func TestCheckSendsTheSettingsToTheStartingDescribe(t *testing.T) {
	t.Parallel()
	conn := sdk.Connection{ID: "check", Config: map[string]string{"rate_requests": "7", "rate_per": "1s"}}
	report, err := Check(context.Background(), CheckParams{Path: testBinaries.plugin, Kind: sdk.KindLLM, Connection: conn})
	if err != nil {
		t.Fatal(err)
	}
	if m := report.State.Manifest; m == nil || len(m.RateLimits) != 1 || m.RateLimits[0].Requests != 7 {
		t.Fatalf("manifest of the start: %+v", report.State.Manifest)
	}
	conn.Config["rate_per"] = "soon"
	_, err = Check(context.Background(), CheckParams{Path: testBinaries.plugin, Kind: sdk.KindLLM, Connection: conn})
	if err == nil || !strings.Contains(err.Error(), "rate_per") {
		t.Fatalf("a start refused for its settings: %v", err)
	}
}
