package api

import (
	"embed"
	"net/http"
	"strings"
)

// Stoplight Elements 9.0.15 (npm @stoplight/elements, Apache-2.0; see
// docs/ELEMENTS-LICENSE.txt), served by the binary so the reference page
// renders with no network access. Huma's own docs page loads it from a CDN.
//
//go:embed docs/web-components.min.js docs/styles.min.css
var docsAssets embed.FS

const docsPage = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="referrer" content="no-referrer">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Consilium API reference</title>
    <link rel="stylesheet" href="/api/docs/assets/styles.min.css">
    <script src="/api/docs/assets/web-components.min.js"></script>
  </head>
  <body style="height: 100vh;">
    <elements-api
      apiDescriptionUrl="/api/openapi.yaml"
      router="hash"
      layout="sidebar"
      tryItCredentialsPolicy="same-origin"
    ></elements-api>
  </body>
</html>
`

var docsCSP = strings.Join([]string{
	"default-src 'none'",
	"base-uri 'none'",
	"connect-src 'self'",
	"img-src 'self' data:",
	"font-src 'self' data:",
	"form-action 'none'",
	"frame-ancestors 'none'",
	"script-src 'self'",
	"style-src 'self' 'unsafe-inline'",
}, "; ")

func registerDocs(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/docs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", docsCSP)
		_, _ = w.Write([]byte(docsPage))
	})
	assets := http.StripPrefix("/api/docs/assets/", http.FileServerFS(mustSub(docsAssets, "docs")))
	mux.Handle("GET /api/docs/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		assets.ServeHTTP(w, r)
	}))
}
