package offline

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/consilium-hq/consilium/plugins/local/internal/page"
	"github.com/consilium-hq/consilium/sdk"
)

func requireTesseract(t *testing.T) {
	t.Helper()
	if _, err := findTesseract(""); err != nil {
		t.Fatalf("%v (scripts/test.sh runs scripts/install-tesseract.sh)", err)
	}
}

func TestTranscribe(t *testing.T) {
	t.Parallel()
	requireTesseract(t)
	img, err := page.Render([]string{"Weekly plan", "[ ] buy milk", "[x] call mom", "Dentist on Friday at 3pm"}, 40)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&Plugin{}).Transcribe(context.Background(), &sdk.TranscribeRequest{Image: img, MIMEType: "image/png", Language: "en-GB"})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(resp.Text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	want := []string{"Weekly plan", "[ ] buy milk", "[x] call mom", "Dentist on Friday at 3pm"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("transcribed %q, want the lines %q", resp.Text, want)
	}
}

func TestTranscribeErrors(t *testing.T) {
	t.Parallel()
	p := &Plugin{}
	ctx := context.Background()
	t.Run("not an image", func(t *testing.T) {
		t.Parallel()
		requireTesseract(t)
		_, err := p.Transcribe(ctx, &sdk.TranscribeRequest{Image: []byte("this is not an image")})
		if sdk.CodeOf(err) != sdk.CodePermanent {
			t.Errorf("%v, want permanent", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		_, err := p.Transcribe(ctx, &sdk.TranscribeRequest{})
		if sdk.CodeOf(err) != sdk.CodePermanent {
			t.Errorf("%v, want permanent", err)
		}
	})
	t.Run("configured binary missing", func(t *testing.T) {
		t.Parallel()
		_, err := p.Transcribe(ctx, &sdk.TranscribeRequest{Image: []byte{1},
			Connection: sdk.Connection{Config: map[string]string{KeyTesseractPath: "/nonexistent/tesseract"}}})
		if sdk.CodeOf(err) != sdk.CodeInvalidConfig {
			t.Errorf("%v, want invalid_config", err)
		}
	})
}

// TestNoTesseract hides tesseract: the error says how to install it, and
// the manifest stops offering transcription.
func TestNoTesseract(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	saved := tesseractFallbacks
	tesseractFallbacks = nil
	t.Cleanup(func() { tesseractFallbacks = saved })

	p := &Plugin{}
	_, err := p.Transcribe(context.Background(), &sdk.TranscribeRequest{Image: []byte{1}})
	if sdk.CodeOf(err) != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), "install-tesseract.sh") {
		t.Errorf("%v, want invalid_config saying how to install tesseract", err)
	}
	m, err := p.Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Has(sdk.CapTranscribe) || !strings.Contains(m.Description, "not installed") {
		t.Errorf("manifest offers transcription without tesseract: %v", m.Capabilities)
	}
}

func TestOCRLanguage(t *testing.T) {
	t.Parallel()
	requireTesseract(t)
	bin, _ := exec.LookPath("tesseract")
	if bin == "" {
		bin, _ = findTesseract("")
	}
	if got := ocrLanguage(context.Background(), bin, "en-US", "eng"); got != "eng" {
		t.Errorf("en-US: %s", got)
	}
	// Klingon has no traineddata: fall back to the default.
	if got := ocrLanguage(context.Background(), bin, "tlh", "eng"); got != "eng" {
		t.Errorf("tlh: %s", got)
	}
}

func TestCleanOCR(t *testing.T) {
	t.Parallel()
	in := "Weekly plan\n\n[] buy milk\n[X] call mom\n  [ v ]  pay rent \n[ ]x\f\n"
	want := "Weekly plan\n\n[ ] buy milk\n[x] call mom\n  [x] pay rent\n[ ] x"
	if got := cleanOCR(in); got != want {
		t.Errorf("cleanOCR = %q, want %q", got, want)
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	m, err := (&Plugin{Version: "1"}).Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Description, "lexical feature-hashing embeddings, not a neural model") {
		t.Errorf("description does not say what the embeddings are: %s", m.Description)
	}
	if m.Auth.Type != sdk.AuthNone || !m.Has(sdk.CapEmbed) || !m.Has(sdk.CapChat) || m.Has(sdk.CapChatTools) {
		t.Errorf("auth %s, capabilities %v", m.Auth.Type, m.Capabilities)
	}
}
