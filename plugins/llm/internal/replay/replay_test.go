package replay

import (
	"bytes"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRecordings(t *testing.T) {
	files, err := filepath.Glob("../../testdata/*/*.httprr")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings found: %v", err)
	}
	for _, f := range files {
		ex, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for i, e := range ex {
			if e.Method != http.MethodPost || !strings.HasPrefix(e.Path, "/") || e.Status == 0 || len(e.ResponseBody) == 0 {
				t.Errorf("%s exchange %d: %s %s -> %d (%d bytes)", f, i, e.Method, e.Path, e.Status, len(e.ResponseBody))
			}
		}
	}
}

func TestParseRejectsDamagedTraces(t *testing.T) {
	good := "httprr trace v1\n"
	req := "POST /v1/x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
	ok := good + "53 40\n" + req + resp
	if len(req) != 53 || len(resp) != 40 {
		t.Fatalf("test trace sizes are %d %d", len(req), len(resp))
	}
	if ex, err := Parse([]byte(ok)); err != nil || len(ex) != 1 || ex[0].Path != "/v1/x" {
		t.Fatalf("Parse(valid) = %v, %v", ex, err)
	}
	for name, trace := range map[string]string{
		"no header":     "53 40\n" + req + resp,
		"short":         good + "53 41\n" + req + resp,
		"bad size line": good + "53\n" + req + resp,
		"not http":      good + "3 3\nabcdef",
	} {
		if _, err := Parse([]byte(trace)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

func TestCutAndStream(t *testing.T) {
	body := SSE([]byte(`{"type":"message_start"}`+"\n"+`{"type":"message_stop"}`), true, false)
	want := "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	if string(body) != want {
		t.Fatalf("SSE = %q", body)
	}
	ex := Stream(http.MethodPost, "/v1/messages", body)
	ex.CutAt = 10
	srv := NewServer(t, []Exchange{ex}, Options{})
	resp, err := http.Post(srv.URL+"/v1/messages", "application/json", bytes.NewReader([]byte(`{}`)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != io.ErrUnexpectedEOF || string(got) != want[:10] {
		t.Errorf("read %q, %v; want the first 10 bytes and an unexpected EOF", got, err)
	}
}
