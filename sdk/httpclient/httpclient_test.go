package httpclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/httpclient"
)

func code(t *testing.T, err error) sdk.Code {
	t.Helper()
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *sdk.Error", err)
	}
	return e.Code
}

func TestAuthFromTheConnection(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok": true}`))
	}))
	defer srv.Close()
	ctx := context.Background()
	var out struct{ OK bool }
	for _, c := range []struct {
		conn *sdk.Connection
		o    httpclient.Options
	}{
		{&sdk.Connection{Token: &sdk.Token{AccessToken: "at-1", TokenType: "bearer"}}, httpclient.Options{}},
		{&sdk.Connection{Secrets: map[string]string{"token": "pk_1"}}, httpclient.Options{Scheme: "-"}},
		{&sdk.Connection{Secrets: map[string]string{"api_key": "k2"}}, httpclient.Options{}},
		{&sdk.Connection{}, httpclient.Options{}},
	} {
		c.o.BaseURL = srv.URL + "/api/v2/"
		if err := httpclient.New(c.conn, c.o).Do(ctx, http.MethodGet, "/team", nil, &out); err != nil {
			t.Fatal(err)
		}
		if !out.OK {
			t.Fatal("answer not decoded")
		}
	}
	want := []string{"Bearer at-1", "pk_1", "Bearer k2", ""}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Authorization headers %q, want %q", got, want)
	}
}

func TestStatusesBecomeTypedErrors(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		status int
		header map[string]string
		body   string
		want   sdk.Code
		retry  time.Duration
		msg    string
	}{
		{401, nil, `{"err":"Token invalid","ECODE":"OAUTH_025"}`, sdk.CodeNeedsReauth, 0, "Token invalid"},
		{403, nil, `{"error":{"message":"no access"}}`, sdk.CodeInvalidConfig, 0, "no access"},
		{404, nil, `nope`, sdk.CodeNotFound, 0, "nope"},
		{429, map[string]string{"Retry-After": "7"}, `{}`, sdk.CodeRateLimited, 7 * time.Second, "429"},
		{429, map[string]string{"X-RateLimit-Reset": "1767323105"}, ``, sdk.CodeRateLimited, 60 * time.Second, "Too Many Requests"},
		{429, map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, ``, sdk.CodeRateLimited, 90 * time.Second, ""},
		{503, map[string]string{"Retry-After-Ms": "1500"}, `<html>down</html>`, sdk.CodeTemporary, 1500 * time.Millisecond, "down"},
		{500, nil, ``, sdk.CodeTemporary, 0, "Internal Server Error"},
		{400, nil, `{"message":"bad field"}`, sdk.CodePermanent, 0, "bad field"},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The answer's Date is the clock Retry-After dates count from.
			w.Header().Set("Date", now.Format(http.TimeFormat))
			for k, v := range c.header {
				w.Header().Set(k, v)
			}
			w.WriteHeader(c.status)
			_, _ = w.Write([]byte(c.body))
		}))
		err := httpclient.New(nil, httpclient.Options{BaseURL: srv.URL, Name: "ClickUp", Now: func() time.Time { return now }}).
			Do(context.Background(), http.MethodGet, "/x", nil, nil)
		srv.Close()
		if got := code(t, err); got != c.want {
			t.Errorf("%d: code %s, want %s (%v)", c.status, got, c.want, err)
		}
		var e *sdk.Error
		errors.As(err, &e)
		if e.RetryAfter != c.retry {
			t.Errorf("%d %v: retry after %s, want %s", c.status, c.header, e.RetryAfter, c.retry)
		}
		if !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), "ClickUp") {
			t.Errorf("%d: message %q lacks %q", c.status, err, c.msg)
		}
	}
}

func TestBodyCapGarbageAndUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			_, _ = w.Write([]byte(`{"items":"` + strings.Repeat("x", 2000) + `"}`))
		case "/garbage":
			_, _ = w.Write([]byte(`<html>`))
		}
	}))
	ctx := context.Background()
	c := httpclient.New(nil, httpclient.Options{BaseURL: srv.URL, MaxBody: 1000})
	var out map[string]any
	if err := c.Do(ctx, http.MethodGet, "/big", nil, &out); code(t, err) != sdk.CodePermanent || !strings.Contains(err.Error(), "more than 1000 bytes") {
		t.Errorf("big answer: %v", err)
	}
	if err := c.Do(ctx, http.MethodGet, "/garbage", nil, &out); code(t, err) != sdk.CodeTemporary {
		t.Errorf("garbage: %v", err)
	}
	srv.Close()
	if err := c.Do(ctx, http.MethodGet, "/big", nil, &out); code(t, err) != sdk.CodeTemporary {
		t.Errorf("unreachable: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Do(cctx, http.MethodGet, "/big", nil, &out); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
