// Package replay serves recorded model-provider traffic from a local HTTP
// server, so that the provider plugins are tested against the providers' real
// wire format without a network. Recordings are httprr traces (the format of
// langchaingo's internal/httprr, itself a fork of the Go authors' httprr):
//
//	httprr trace v1\n
//	<reqBytes> <respBytes>\n
//	<raw HTTP/1.1 request><raw HTTP response>
//	... one pair per exchange
package replay

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// Exchange is one recorded request and the response the provider gave.
type Exchange struct {
	Method string
	// Path is the request's URL path, such as /v1/chat/completions.
	Path           string
	RequestHeader  http.Header
	RequestBody    []byte
	Status         int
	ResponseHeader http.Header
	ResponseBody   []byte
	// CutAt, when positive, sends only the first CutAt bytes of the body and
	// then drops the connection, as a provider or proxy that dies mid-stream.
	CutAt int
}

const traceHeader = "httprr trace v1\n"

// Load reads an httprr trace file.
func Load(path string) ([]Exchange, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ex, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ex, nil
}

// Parse reads an httprr trace.
func Parse(data []byte) ([]Exchange, error) {
	rest, ok := bytes.CutPrefix(data, []byte(traceHeader))
	if !ok {
		return nil, errors.New("not an httprr trace: missing header line")
	}
	var out []Exchange
	for len(rest) > 0 {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return nil, fmt.Errorf("exchange %d: missing size line", len(out)+1)
		}
		var reqLen, respLen int
		if _, err := fmt.Sscanf(string(line), "%d %d", &reqLen, &respLen); err != nil {
			return nil, fmt.Errorf("exchange %d: bad size line %q", len(out)+1, line)
		}
		if reqLen < 0 || respLen < 0 || reqLen+respLen > len(after) {
			return nil, fmt.Errorf("exchange %d: sizes %d+%d exceed the %d bytes left", len(out)+1, reqLen, respLen, len(after))
		}
		ex, err := parseExchange(after[:reqLen], after[reqLen:reqLen+respLen])
		if err != nil {
			return nil, fmt.Errorf("exchange %d: %w", len(out)+1, err)
		}
		out = append(out, ex)
		rest = after[reqLen+respLen:]
	}
	return out, nil
}

func parseExchange(rawReq, rawResp []byte) (Exchange, error) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(rawReq)))
	if err != nil {
		return Exchange{}, fmt.Errorf("read request: %w", err)
	}
	reqBody, err := io.ReadAll(req.Body)
	if err != nil {
		return Exchange{}, fmt.Errorf("read request body: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(rawResp)), req)
	if err != nil {
		return Exchange{}, fmt.Errorf("read response: %w", err)
	}
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		return Exchange{}, fmt.Errorf("read response body: %w", err)
	}
	return Exchange{
		Method:         req.Method,
		Path:           req.URL.Path,
		RequestHeader:  req.Header,
		RequestBody:    reqBody,
		Status:         resp.StatusCode,
		ResponseHeader: resp.Header,
		ResponseBody:   respBody,
	}, nil
}

// SSE frames JSON payloads, one per line of jsonl, as a server-sent event
// stream. With events set, each payload gets an `event:` line named after its
// "type" field, as Anthropic sends them; with done set the stream ends with
// `data: [DONE]`, as OpenAI-compatible servers end theirs.
func SSE(jsonl []byte, events, done bool) []byte {
	var b bytes.Buffer
	for _, line := range strings.Split(strings.TrimSpace(string(jsonl)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if events {
			if typ := jsonType(line); typ != "" {
				b.WriteString("event: " + typ + "\n")
			}
		}
		b.WriteString("data: " + line + "\n\n")
	}
	if done {
		b.WriteString("data: [DONE]\n\n")
	}
	return b.Bytes()
}

// jsonType returns the top-level "type" string of a JSON object, cheaply.
func jsonType(obj string) string {
	i := strings.Index(obj, `"type":"`)
	if i < 0 {
		return ""
	}
	rest := obj[i+len(`"type":"`):]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return rest[:j]
}

// JSON returns an exchange answering method+path with status and a JSON body,
// for error answers written in a provider's documented format.
func JSON(method, path string, status int, body string, header ...string) Exchange {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return Exchange{Method: method, Path: path, Status: status, ResponseHeader: h, ResponseBody: []byte(body)}
}

// Stream returns an exchange answering method+path with a 200 server-sent
// event stream.
func Stream(method, path string, body []byte) Exchange {
	return Exchange{Method: method, Path: path, Status: http.StatusOK,
		ResponseHeader: http.Header{"Content-Type": {"text/event-stream"}}, ResponseBody: body}
}

// contentLength is used when the response is sent whole.
func contentLength(b []byte) string { return strconv.Itoa(len(b)) }
