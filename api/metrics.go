package api

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// requireToken serves next to requests that send Authorization: Bearer
// <token>, and 401 problem+json to the rest.
func requireToken(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			writeProblem(w, r, newProblem(r.Context(), http.StatusUnauthorized,
				"/metrics needs Authorization: Bearer <metrics.token>"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
