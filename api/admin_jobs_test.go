package api_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
)

func makeSuperuser(t *testing.T, e *apitest.Env, u *apitest.User) {
	t.Helper()
	_, err := e.DB.Pool.Exec(context.Background(), `UPDATE users SET is_superuser = true WHERE id = $1`, u.ID)
	require.NoError(t, err)
}

// get fetches path without following redirects, with a cookie and headers.
func rawGet(t *testing.T, e *apitest.Env, path string, cookie *http.Cookie, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.Server.URL+path, nil)
	require.NoError(t, err)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}

func TestJobsUIIsForSuperusers(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{JobsUI: true})
	admin, user := e.NewUser(), e.NewUser()
	makeSuperuser(t, e, admin)

	// Without credentials, with a user's and with a bad one: refused, as problem+json.
	for _, c := range []struct {
		headers []string
		status  int
	}{{nil, 401}, {[]string{user.Bearer()}, 403}, {[]string{"Authorization: Bearer nope"}, 401}} {
		for _, path := range []string{"/admin/jobs/", "/admin/jobs/api/queues"} {
			res, body := rawGet(t, e, path, nil, c.headers...)
			require.Equal(t, c.status, res.StatusCode, "%s %v: %s", path, c.headers, body)
			require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
		}
	}
	res := e.Do(http.MethodPost, "/api/admin/jobs/session", nil, user.Bearer())
	require.Equal(t, http.StatusForbidden, res.Status, res.String())

	// A superuser's ticket becomes a cookie for /admin/jobs only.
	res = e.Do(http.MethodPost, "/api/admin/jobs/session", nil, admin.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	url := res.Map(t)["url"].(string)
	require.True(t, strings.HasPrefix(url, "/admin/jobs/?ticket="), url)

	tampered := url[:len(url)-2] + "xx"
	r, _ := rawGet(t, e, tampered, nil)
	require.Equal(t, http.StatusUnauthorized, r.StatusCode)

	r, _ = rawGet(t, e, url, nil)
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	require.Equal(t, "/admin/jobs/", r.Header.Get("Location"))
	var cookie *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == "consilium_jobs_ui" {
			cookie = c
		}
	}
	require.NotNil(t, cookie)
	require.Equal(t, "/admin/jobs", cookie.Path)
	require.True(t, cookie.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, cookie.SameSite)

	r, body := rawGet(t, e, "/admin/jobs/", cookie)
	require.Equal(t, http.StatusOK, r.StatusCode, body)
	require.Contains(t, r.Header.Get("Content-Type"), "text/html")
	require.Contains(t, body, "<script", "River UI's page")
	r, body = rawGet(t, e, "/admin/jobs/api/queues", cookie)
	require.Equal(t, http.StatusOK, r.StatusCode, body)
	require.Contains(t, body, `"data"`)

	// A bearer token works for scripts; a user who stops being a superuser is shut out at once.
	r, _ = rawGet(t, e, "/admin/jobs/api/queues", nil, admin.Bearer())
	require.Equal(t, http.StatusOK, r.StatusCode)
	_, err := e.DB.Pool.Exec(context.Background(), `UPDATE users SET is_superuser = false WHERE id = $1`, admin.ID)
	require.NoError(t, err)
	r, _ = rawGet(t, e, "/admin/jobs/api/queues", cookie)
	require.Equal(t, http.StatusForbidden, r.StatusCode)
	r, _ = rawGet(t, e, url, nil)
	require.Equal(t, http.StatusForbidden, r.StatusCode, "the ticket of a former superuser")
}

// River UI renders in a real (headless) browser from the URL the session
// endpoint gives, offline: its scripts are served by the binary.
func TestJobsUIRendersInABrowser(t *testing.T) {
	t.Parallel()
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed: scripts/install-chromium.sh installs it (make test runs it)")
		}
		t.Skip("chromium is not installed: scripts/install-chromium.sh installs it")
	}
	e := apitest.New(t, apitest.Options{JobsUI: true})
	admin := e.NewUser()
	makeSuperuser(t, e, admin)
	res := e.Do(http.MethodPost, "/api/admin/jobs/session", nil, admin.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	url := e.Server.URL + res.Map(t)["url"].(string)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--virtual-time-budget=15000", "--dump-dom", url)
	out, err := cmd.Output()
	require.NoError(t, err, "chromium: %s", out)
	dom := string(out)
	// The app rendered: its navigation names the jobs and queues views.
	require.Contains(t, dom, "Jobs", "River UI did not render:\n%.2000s", dom)
	require.Contains(t, dom, "Queues", "River UI did not render:\n%.2000s", dom)
}
