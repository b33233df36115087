package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
)

// Problem is every error body the API writes (RFC 9457 problem+json).
type Problem struct {
	Type     string              `json:"type,omitempty" default:"about:blank" doc:"A URI reference that identifies the problem type."`
	Title    string              `json:"title" example:"Unprocessable Entity" doc:"Short summary of the problem type (the HTTP status text)."`
	Status   int                 `json:"status" example:"422" doc:"HTTP status code."`
	Detail   string              `json:"detail,omitempty" example:"validation failed" doc:"What went wrong in this occurrence, for people."`
	Code     string              `json:"code,omitempty" example:"invalid" enum:"not_found,conflict,invalid,unauthorized,forbidden,precondition_failed,rate_limited,unavailable,internal,bad_request,method_not_allowed,too_large,request_timeout" doc:"Machine-readable error code."`
	Instance string              `json:"instance,omitempty" doc:"The request id of this occurrence; quote it when reporting a problem."`
	Errors   []*huma.ErrorDetail `json:"errors,omitempty" doc:"One entry per bad input field."`
}

func (p *Problem) Error() string  { return p.Detail }
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes Huma write problem+json for a JSON response.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

var statusOf = map[apperr.Code]int{
	apperr.NotFound:           http.StatusNotFound,
	apperr.Conflict:           http.StatusConflict,
	apperr.Invalid:            http.StatusUnprocessableEntity,
	apperr.Unauthorized:       http.StatusUnauthorized,
	apperr.Forbidden:          http.StatusForbidden,
	apperr.PreconditionFailed: http.StatusPreconditionFailed,
	apperr.RateLimited:        http.StatusTooManyRequests,
	apperr.Unavailable:        http.StatusServiceUnavailable,
	apperr.Internal:           http.StatusInternalServerError,
}

var codeOfStatus = map[int]string{
	http.StatusBadRequest:                  "bad_request",
	http.StatusUnauthorized:                "unauthorized",
	http.StatusForbidden:                   "forbidden",
	http.StatusNotFound:                    "not_found",
	http.StatusMethodNotAllowed:            "method_not_allowed",
	http.StatusRequestTimeout:              "request_timeout",
	http.StatusConflict:                    "conflict",
	http.StatusPreconditionFailed:          "precondition_failed",
	http.StatusRequestEntityTooLarge:       "too_large",
	http.StatusUnprocessableEntity:         "invalid",
	http.StatusTooManyRequests:             "rate_limited",
	http.StatusRequestHeaderFieldsTooLarge: "too_large",
	http.StatusServiceUnavailable:          "unavailable",
}

func newProblem(ctx context.Context, status int, detail string) *Problem {
	p := &Problem{Title: http.StatusText(status), Status: status, Detail: detail, Code: codeOfStatus[status]}
	if status >= 500 && p.Code == "" {
		p.Code = string(apperr.Internal)
	}
	if ri := requestInfoFrom(ctx); ri != nil {
		p.Instance = "urn:request:" + ri.ID
	}
	return p
}

// fieldSource is where the fields an application error names came from
// when the error does not say (core names bare fields, see
// apperr.FieldError): the request body for operations that take one, the
// query string for the others. Path ids are read here and answer 404.
func fieldSource(op *huma.Operation) string {
	if op == nil || op.RequestBody != nil {
		return "body"
	}
	return "query"
}

// problemFromAppErr turns an application error into a problem and the
// headers it implies; in is the default source of the fields it names.
func problemFromAppErr(ctx context.Context, e *apperr.Error, in string) (*Problem, http.Header) {
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	p := newProblem(ctx, status, e.Message)
	p.Code = string(e.Code)
	for _, f := range e.Fields {
		if f.In == "" {
			f.In = in
		}
		p.Errors = append(p.Errors, safeDetail(&huma.ErrorDetail{Location: f.Where(), Message: f.Message, Value: f.Value}))
	}
	h := http.Header{}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", retryAfterSeconds(e.RetryAfter))
	}
	if e.Code == apperr.Unauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="consilium"`)
	}
	return p, h
}

func retryAfterSeconds(d interface{ Seconds() float64 }) string {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}

// installHumaErrors makes Huma build every error as a Problem: application
// errors get their own status, 5xx errors are logged and never leak their
// message to the client.
func installHumaErrors(logger *slog.Logger) {
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return buildProblem(context.Background(), logger, status, msg, errs)
	}
	huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		var ctx context.Context = context.Background()
		if hctx != nil {
			ctx = hctx.Context()
		}
		for _, err := range errs {
			ae := appErrorOf(ctx, logger, err)
			if ae == nil {
				continue
			}
			var op *huma.Operation
			if hctx != nil {
				op = hctx.Operation()
			}
			p, h := problemFromAppErr(ctx, ae, fieldSource(op))
			if hctx != nil {
				for k, vs := range h {
					for _, v := range vs {
						hctx.SetHeader(k, v)
					}
				}
			}
			return p
		}
		return buildProblem(ctx, logger, status, msg, errs)
	}
}

// appErrorOf is the application error a request failed with: err's own
// when it is one (other than internal), unavailable when err says the
// database cannot be reached (the one place where connection errors become
// 503), else nil.
func appErrorOf(ctx context.Context, logger *slog.Logger, err error) *apperr.Error {
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Code != apperr.Internal {
		return ae
	}
	if u := db.Unavailable(err); u != nil {
		loggerFrom(ctx, logger).WarnContext(ctx, "database unavailable", "error", err)
		return u
	}
	return nil
}

func buildProblem(ctx context.Context, logger *slog.Logger, status int, msg string, errs []error) *Problem {
	p := newProblem(ctx, status, msg)
	if status >= 500 {
		if len(errs) > 0 {
			loggerFrom(ctx, logger).ErrorContext(ctx, "request failed", "status", status, "error", errors.Join(errs...))
		}
		p.Detail = "internal error: the server could not complete the request; quote the instance id when reporting it"
		if status == http.StatusServiceUnavailable {
			p.Detail = msg
		}
		return p
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		if d, ok := err.(huma.ErrorDetailer); ok {
			p.Errors = append(p.Errors, safeDetail(d.ErrorDetail()))
		} else {
			p.Errors = append(p.Errors, &huma.ErrorDetail{Message: err.Error()})
		}
	}
	return p
}

// safeDetail keeps secrets and large values out of error bodies (and so out
// of logs and browser consoles): a rejected password is not echoed back, nor
// is one inside a value shown for another reason (an unexpected property
// echoes the whole object).
func safeDetail(d *huma.ErrorDetail) *huma.ErrorDetail {
	if d == nil {
		return d
	}
	if isSecretName(d.Location) {
		return &huma.ErrorDetail{Location: d.Location, Message: d.Message}
	}
	v := withoutSecrets(d.Value)
	if s, ok := v.(string); ok && len(s) > 200 {
		v = s[:200] + "…"
	}
	return &huma.ErrorDetail{Location: d.Location, Message: d.Message, Value: v}
}

// secretNames are parts of the names of fields whose values are never shown.
var secretNames = []string{"password", "passwd", "token", "secret", "api_key", "apikey", "api-key",
	"authorization", "credential", "private_key", "cookie"}

func isSecretName(name string) bool {
	name = strings.ToLower(name)
	for _, s := range secretNames {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// redacted replaces a secret value that is shown within a larger one.
const redacted = "[redacted]"

// withoutSecrets copies v with the value of every secret-named key of an
// object, at any depth, replaced by "[redacted]".
func withoutSecrets(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			if isSecretName(k) {
				out[k] = redacted
			} else {
				out[k] = withoutSecrets(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = withoutSecrets(x)
		}
		return out
	default:
		return v
	}
}

// writeProblem writes a problem from plain net/http code (outside Huma).
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	body, err := json.Marshal(p)
	if err != nil {
		body = []byte(fmt.Sprintf(`{"title":%q,"status":%d}`, http.StatusText(p.Status), p.Status))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del("Content-Length")
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}
