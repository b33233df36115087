package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRewriteNetHTTPErrorOnlyRewritesNetHTTPsOwnErrors(t *testing.T) {
	for name, b := range map[string]string{
		"a handler's response": "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Mon, 01 Jan 2026 00:00:00 GMT\r\n\r\nx",
		"a body":               "431 Request Header Fields Too Large",
		"a 2xx":                "HTTP/1.1 200 OK" + netHTTPErrorHeaders + "fine",
		"more than one line":   "HTTP/1.1 400 Bad Request" + netHTTPErrorHeaders + "a\r\nb",
	} {
		require.Nil(t, rewriteNetHTTPError([]byte(b)), name)
	}

	out := rewriteNetHTTPError([]byte("HTTP/1.1 431 Request Header Fields Too Large" + netHTTPErrorHeaders + "431 Request Header Fields Too Large"))
	require.NotNil(t, out)
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, res.StatusCode)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	var p Problem
	require.NoError(t, json.NewDecoder(res.Body).Decode(&p))
	require.Equal(t, 431, p.Status)
	require.Equal(t, "too_large", p.Code)
}
