package apitest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The test client checks every response it receives against the OpenAPI
// document the server itself serves: the status must be one the operation
// declares, the content type one declared for that status, and a JSON body
// must match the declared schema (JSON Schema 2020-12, formats asserted).
// A generated client trusts exactly these promises, so a test that gets an
// answer the document does not describe fails, whatever it asserts itself.
//
// Requests to paths the document does not describe (health checks, the
// document and docs pages, unknown routes, methods a route does not have)
// are left alone: they have no contract to break.

// contractTransport validates the responses that pass through it.
type contractTransport struct {
	base   http.RoundTripper
	docURL string
	report func(format string, args ...any)

	once     sync.Once
	contract *contract
	err      error
}

func (c *contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := c.base.RoundTrip(req)
	if err != nil || req.Method == http.MethodHead || req.Method == http.MethodOptions {
		return res, err
	}
	c.once.Do(func() { c.contract, c.err = c.load() })
	if c.err != nil {
		c.report("OpenAPI contract: %v", c.err)
		return res, nil
	}
	op := c.contract.find(req.Method, req.URL.EscapedPath())
	if op == nil {
		return res, nil
	}
	ct := res.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt == "text/event-stream" {
		// A stream is read as it comes; only its status is checked.
		if msg := op.check(res.StatusCode, ct, nil, true); msg != "" {
			c.report("OpenAPI contract: %s %s: %s", req.Method, req.URL.Path, msg)
		}
		return res, nil
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if msg := op.check(res.StatusCode, ct, body, false); msg != "" {
		c.report("OpenAPI contract: %s %s: %s\nbody: %s", req.Method, req.URL.Path, msg, excerpt(body))
	}
	return res, nil
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport underneath.
func (c *contractTransport) CloseIdleConnections() {
	if ci, ok := c.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

func excerpt(b []byte) string {
	const max = 2000
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// load fetches the served document and compiles it, once per distinct
// document in the test binary.
func (c *contractTransport) load() (*contract, error) {
	req, err := http.NewRequest(http.MethodGet, c.docURL, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", c.docURL, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: %d %v", c.docURL, res.StatusCode, err)
	}
	return compiled(raw)
}

var (
	compiledMu sync.Mutex
	// compiledDocs holds every document compiled in this test binary by
	// its hash: servers of one package serve the same document (unless a
	// test adds routes), so it is compiled once.
	compiledDocs = map[[sha256.Size]byte]*contract{}
)

func compiled(raw []byte) (*contract, error) {
	key := sha256.Sum256(raw)
	compiledMu.Lock()
	defer compiledMu.Unlock()
	if c, ok := compiledDocs[key]; ok {
		return c, nil
	}
	c, err := compileContract(raw)
	if err != nil {
		return nil, err
	}
	compiledDocs[key] = c
	return c, nil
}

// contract is a compiled OpenAPI document.
type contract struct {
	prefix string
	ops    []*contractOp
}

type contractOp struct {
	id       string
	method   string
	segments []string // "" matches any one segment ({param})
	literals int
	// responses by status key ("200", "4XX", "default"); each maps a
	// media type to its compiled schema (nil: any body of that type).
	responses map[string]map[string]*jsonschema.Schema
}

const docLocation = "mem://openapi.json"

func compileContract(raw []byte) (*contract, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("decode the document: %w", err)
	}
	var shape struct {
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Responses   map[string]struct {
				Content map[string]struct {
					Schema json.RawMessage `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &shape); err != nil {
		return nil, fmt.Errorf("decode the document: %w", err)
	}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.AssertFormat()
	if err := comp.AddResource(docLocation, doc); err != nil {
		return nil, fmt.Errorf("load the document: %w", err)
	}
	c := &contract{}
	if len(shape.Servers) > 0 {
		c.prefix = strings.TrimSuffix(shape.Servers[0].URL, "/")
	}
	for path, item := range shape.Paths {
		for method, op := range item {
			switch method {
			case "get", "put", "post", "delete", "patch":
			default:
				continue
			}
			o := &contractOp{id: op.OperationID, method: strings.ToUpper(method), responses: map[string]map[string]*jsonschema.Schema{}}
			for _, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
				if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
					seg = ""
				} else {
					o.literals++
				}
				o.segments = append(o.segments, seg)
			}
			for status, r := range op.Responses {
				media := map[string]*jsonschema.Schema{}
				for ct, m := range r.Content {
					if len(m.Schema) == 0 {
						media[ct] = nil
						continue
					}
					loc := docLocation + "#" + pointer("paths", path, method, "responses", status, "content", ct, "schema")
					sch, err := comp.Compile(loc)
					if err != nil {
						return nil, fmt.Errorf("compile the schema of %s %s: %w", op.OperationID, status, err)
					}
					media[ct] = sch
				}
				o.responses[status] = media
			}
			c.ops = append(c.ops, o)
		}
	}
	return c, nil
}

// pointer is a JSON pointer to tokens, escaped for a URL fragment.
func pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		t = strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
		b.WriteString("/" + url.PathEscape(t))
	}
	return b.String()
}

// find is the operation that serves method and path; nil when the
// document describes none. Literal segments win over parameters
// (/ai/documents/process over /ai/documents/{document_id}).
func (c *contract) find(method, escapedPath string) *contractOp {
	rest, ok := strings.CutPrefix(escapedPath, c.prefix+"/")
	if !ok {
		return nil
	}
	segs := strings.Split(rest, "/")
	var best *contractOp
	for _, o := range c.ops {
		if o.method != method || len(o.segments) != len(segs) {
			continue
		}
		match := true
		for i, s := range o.segments {
			if s == "" && segs[i] == "" || s != "" && s != segs[i] {
				match = false
				break
			}
		}
		if match && (best == nil || o.literals > best.literals) {
			best = o
		}
	}
	return best
}

// check returns what is wrong with a response, or "".
func (o *contractOp) check(status int, contentType string, body []byte, stream bool) string {
	code := strconv.Itoa(status)
	media, ok := o.responses[code]
	if !ok {
		media, ok = o.responses[code[:1]+"XX"]
	}
	if !ok {
		media, ok = o.responses["default"]
	}
	if !ok {
		return fmt.Sprintf("answered %d, which %s does not declare", status, o.id)
	}
	if len(media) == 0 {
		if len(body) > 0 {
			return fmt.Sprintf("answered %d with a body (%s), which %s declares without content", status, contentType, o.id)
		}
		return ""
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Sprintf("answered %d with Content-Type %q: %v", status, contentType, err)
	}
	sch, ok := media[mt]
	if !ok {
		return fmt.Sprintf("answered %d as %s, which %s does not declare for %d", status, mt, o.id, status)
	}
	if stream || sch == nil {
		return ""
	}
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return ""
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Sprintf("answered %d with a body that is not JSON: %v", status, err)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Sprintf("the %d body does not match the schema %s declares:\n%v", status, o.id, err)
	}
	return ""
}

// Validated wraps a transport so that every response through it is checked
// against the served OpenAPI document; e.Client already is. Benchmarks are
// not checked: they measure the server, not the checker.
func (e *Env) Validated(base http.RoundTripper) http.RoundTripper {
	if _, bench := e.T.(*testing.B); bench {
		return base
	}
	return &contractTransport{base: base, docURL: e.Server.URL + "/api/openapi.json", report: e.T.Errorf}
}
