package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"

	"github.com/consilium-hq/consilium/core/config"
)

// NewHTTPServer is the http.Server that serves the API: its timeouts and
// header limit come from the http section of the config. Serve it on a
// listener wrapped by ProblemListener.
//
// ReadTimeout (header plus body timeouts) bounds reading a whole request
// where no operation sets a body deadline of its own: routes outside Huma,
// and net/http draining a body a handler left unread. Huma operations set
// theirs when they start reading the body (http.body_read_timeout, longer
// for uploads); net/http clears the deadline once the body is read, so a
// long-running handler is not cut off.
func NewHTTPServer(h http.Handler, c config.HTTP, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadHeaderTimeout + c.BodyReadTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
}

// ProblemListener makes the errors net/http writes itself, before any
// handler runs, problem+json like every other error of the API.
//
// net/http answers a request it cannot parse (headers over MaxHeaderBytes:
// 431; a malformed request line or header: 400; an unknown
// Transfer-Encoding: 501) by writing a fixed plain-text response straight to
// the connection and closing it; http.Server has no hook for these
// (conn.serve in net/http/server.go: fmt.Fprintf(c.rwc, "HTTP/1.1 "+...)).
// The only place to change them is the connection, so the listener wraps
// each one and rewrites exactly that response, recognised by its fixed
// header block, which no handler response can produce: net/http writes a
// handler's headers sorted, with a Date, in its buffered writer.
func ProblemListener(ln net.Listener) net.Listener { return problemListener{ln} }

type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &problemConn{Conn: c}, nil
}

// problemConn rewrites net/http's own plain-text error responses.
type problemConn struct {
	net.Conn
}

// netHTTPErrorHeaders is the header block net/http writes with its own
// errors (errorHeaders in net/http's conn.serve).
const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *problemConn) Write(b []byte) (int, error) {
	if p := rewriteNetHTTPError(b); p != nil {
		if _, err := c.Conn.Write(p); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// CloseWrite lets net/http half-close the connection after its own error
// responses so the client reads them before the connection is reset.
func (c *problemConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps sendfile for response bodies (they never need rewriting).
func (c *problemConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// rewriteNetHTTPError returns the problem+json response for one of
// net/http's own error responses, or nil when b is anything else.
func rewriteNetHTTPError(b []byte) []byte {
	const prefix = "HTTP/1.1 "
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return nil
	}
	statusLine, text, ok := bytes.Cut(b[len(prefix):], []byte(netHTTPErrorHeaders))
	if !ok || len(statusLine) < 3 || bytes.ContainsAny(statusLine, "\r\n") || bytes.ContainsAny(text, "\r\n") {
		return nil
	}
	status, err := strconv.Atoi(string(statusLine[:3]))
	if err != nil || status < 400 || status > 599 {
		return nil
	}
	detail := string(text)
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		detail = "the request line and headers are larger than this server accepts (http.max_header_bytes)"
	case http.StatusBadRequest:
		detail = "malformed HTTP request: " + detail
	}
	body := mustJSON(newProblemWithoutRequest(status, detail))
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), body)
}

// newProblemWithoutRequest is a problem written before there is a request
// (and so no request id).
func newProblemWithoutRequest(status int, detail string) *Problem {
	p := &Problem{Title: http.StatusText(status), Status: status, Detail: detail, Code: codeOfStatus[status]}
	if p.Code == "" && status >= 500 {
		p.Code = "internal"
	}
	return p
}

// isTimeout reports whether a read failed on its deadline (a body that did
// not arrive in time), as Huma's own body reader decides it.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
