package api

import (
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// overview is the document's info.description: what a frontend developer
// reads first.
const overview = `The REST API of Consilium, a self-hostable backend for personal planning with AI: notes written in
a block editor (BlockNote), the tasks inside them, goals, reflections, and AI retrieval over your notes and documents.

## Getting a token

1. Create an account with ` + "`POST /api/auth/register`" + ` (` + "`{email, password, full_name}`" + `, answers 201), or sign in
   with ` + "`POST /api/auth/login`" + ` (` + "`{email, password}`" + `). Both answer ` + "`access_token`, `refresh_token`" + ` and
   ` + "`expires_in`" + `.
2. Send ` + "`Authorization: Bearer <access_token>`" + ` on every other request. An access token lasts 15 minutes.
3. Before it expires (or on a 401), ` + "`POST /api/auth/refresh`" + ` with ` + "`{refresh_token}`" + ` answers a new pair. Refresh
   tokens rotate on every use: keep the newest. ` + "`POST /api/auth/logout`" + ` ends the session.

A server in Supabase mode takes Supabase Auth access tokens instead, and answers 403 to register, login and refresh.

## Conventions

- Every path is under ` + "`/api`" + `; request and response bodies are JSON.
- Every error is ` + "`application/problem+json`" + ` (the Problem schema) with a machine-readable ` + "`code`" + `; bad input
  answers 422 with ` + "`errors[]`" + ` naming each field where it was sent (` + "`body.title`, `query.limit`, `path.note_id`" + `).
- Lists answer ` + "`{items, next_cursor}`" + `: pass ` + "`next_cursor`" + ` as ` + "`cursor`" + ` for the next page; it is absent on the last.
- Reads of notes, tasks and goals answer an ` + "`ETag`" + `; send it back as ` + "`If-Match`" + ` on a write, and a change
  made meanwhile answers 412 instead of being overwritten.
- Any operation may answer 500, and 503 with Retry-After while the database cannot be reached. Requests whose
  headers exceed the server's limit answer 431 before reaching any operation.`

// schemaName names the schemas of the document. Go's names are kept, less
// the JSON suffix that tells the API's types from core's (NoteJSON is the
// Note schema). Request and response bodies are named types, so Huma never
// has to invent a name from an operation id.
func schemaName(t reflect.Type, hint string) string {
	return strings.TrimSuffix(huma.DefaultSchemaNamer(t, hint), "JSON")
}

// declareErrors documents the error statuses an operation can answer,
// derived from what it takes, so that the document cannot drift from the
// server:
//
//   - every operation: 500, and 503 while the database is unreachable;
//   - with a bearer token: 401 without a valid one, 403 for a deactivated
//     account, 429 over the rate limit;
//   - a path parameter: 404 when it names nothing of the user's, and 422
//     when its schema constrains it (a malformed uuid, a version below 1);
//   - query parameters: 422 for a bad value;
//   - If-Match: 412 when stale;
//   - a body: 400 when it is not JSON, 408 when it arrives too slowly, 413
//     over the size limit, 422 when a field is refused, and 415 for a
//     content type other than JSON where Huma decodes it.
//
// Statuses that only the operation knows (409 conflicts, 401 for wrong
// credentials, 403) come from its Errors. Huma's own guesses (422 for
// any path parameter, a "default" response) are replaced. Group modifiers
// run after huma.Register has turned op.Errors into responses, so the
// responses are rewritten here.
// declares404 in an operation's Metadata keeps the 404 of its Errors
// when it has neither path parameter nor body.
const declares404 = "declares404"

func declareErrors(api huma.API, op *huma.Operation, authed bool) {
	codes := map[int]bool{http.StatusInternalServerError: true, http.StatusServiceUnavailable: true}
	if authed {
		for _, c := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests} {
			codes[c] = true
		}
	}
	for _, p := range op.Parameters {
		switch p.In {
		case "path":
			codes[http.StatusNotFound] = true
			if constrained(p.Schema) {
				codes[http.StatusUnprocessableEntity] = true
			}
		case "query":
			codes[http.StatusUnprocessableEntity] = true
		case "header":
			if strings.EqualFold(p.Name, "If-Match") {
				codes[http.StatusPreconditionFailed] = true
			}
		}
	}
	if op.RequestBody != nil {
		for _, c := range []int{http.StatusBadRequest, http.StatusRequestTimeout, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity} {
			codes[c] = true
		}
		if !op.SkipValidateBody {
			codes[http.StatusUnsupportedMediaType] = true
		}
	}
	for _, c := range op.Errors {
		switch c {
		case http.StatusNotFound:
			// Beside path ids, a body may name a resource of the user's
			// (a chat ticket's conversation): such operations list 404.
			// Or the operation says 404 of something else it needs (POST
			// /tasks/sync: no outside system connected).
			if op.RequestBody != nil || op.Metadata[declares404] == true {
				codes[c] = true
			}
		case http.StatusPreconditionFailed, http.StatusUnprocessableEntity:
		default:
			codes[c] = true
		}
	}

	schema := api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(Problem{}), true, "Problem")
	ct := (&Problem{}).ContentType("application/json")
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	for key := range op.Responses {
		if code, err := strconv.Atoi(key); key == "default" || err == nil && code >= 400 && !codes[code] {
			delete(op.Responses, key)
		}
	}
	op.Errors = op.Errors[:0]
	for code := range codes {
		op.Errors = append(op.Errors, code)
		r := op.Responses[strconv.Itoa(code)]
		if r == nil {
			r = &huma.Response{Content: map[string]*huma.MediaType{ct: {Schema: schema}}}
			op.Responses[strconv.Itoa(code)] = r
		}
		r.Description = http.StatusText(code)
		if d, ok := errorDescriptions[code]; ok {
			r.Description = d
		}
	}
	slices.Sort(op.Errors)
}

// errorDescriptions say when each error status is answered.
var errorDescriptions = map[int]string{
	http.StatusBadRequest:            "Bad Request: the body is not valid JSON, or is missing.",
	http.StatusUnauthorized:          "Unauthorized: no valid bearer token (or wrong credentials).",
	http.StatusForbidden:             "Forbidden: the account is deactivated, or the operation is not open to it (see its description).",
	http.StatusNotFound:              "Not Found: no such resource of the signed-in user (another user's id answers this too).",
	http.StatusRequestTimeout:        "Request Timeout: the body arrived too slowly.",
	http.StatusConflict:              "Conflict: the change collides with what exists (see the operation's description).",
	http.StatusPreconditionFailed:    "Precondition Failed: If-Match names a version that is no longer current.",
	http.StatusRequestEntityTooLarge: "Content Too Large: the body is over the operation's size limit.",
	http.StatusUnsupportedMediaType:  "Unsupported Media Type: send application/json.",
	http.StatusUnprocessableEntity:   "Unprocessable Entity: a field is refused; errors[] names each one where it was sent.",
	http.StatusTooManyRequests:       "Too Many Requests: wait for Retry-After seconds.",
	http.StatusInternalServerError:   "Internal Server Error: quote the problem's instance when reporting it.",
	http.StatusServiceUnavailable:    "Service Unavailable: the database (or a model provider) cannot be reached; retry after Retry-After.",
}

// constrained reports whether Huma validates a parameter's value beyond
// its presence, so that a bad one answers 422.
func constrained(s *huma.Schema) bool {
	if s == nil {
		return false
	}
	return s.Type != huma.TypeString || s.Format != "" || s.Pattern != "" || len(s.Enum) > 0 ||
		s.MinLength != nil || s.MaxLength != nil
}

// finishDocument corrects what Huma's schema generation leaves wrong in
// the whole document: a nullable enum (a *string with an enum tag) lists
// its values but not null, so every null the server answers would fail
// the schema; null joins the enum. It runs once every operation of New is
// registered.
func finishDocument(oapi *huma.OpenAPI) {
	seen := map[*huma.Schema]bool{}
	var walk func(s *huma.Schema)
	walk = func(s *huma.Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		if s.Nullable && len(s.Enum) > 0 && !slices.Contains(s.Enum, nil) {
			s.Enum = append(s.Enum, nil)
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		if ap, ok := s.AdditionalProperties.(*huma.Schema); ok {
			walk(ap)
		}
		for _, list := range [][]*huma.Schema{s.AllOf, s.AnyOf, s.OneOf} {
			for _, x := range list {
				walk(x)
			}
		}
		walk(s.Not)
	}
	for _, s := range oapi.Components.Schemas.Map() {
		walk(s)
	}
	for _, item := range oapi.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if op == nil {
				continue
			}
			for _, p := range op.Parameters {
				walk(p.Schema)
			}
			if op.RequestBody != nil {
				for _, m := range op.RequestBody.Content {
					walk(m.Schema)
				}
			}
			for _, r := range op.Responses {
				for _, m := range r.Content {
					walk(m.Schema)
				}
				for _, h := range r.Headers {
					walk(h.Schema)
				}
			}
		}
	}
}

// jsonExample is a request body whose documented example is v: the
// example a docs page shows and sends, which a test posts to a real server
// (TestOpenAPIRequestExamples). Huma fills in the schema.
func jsonExample(v any) *huma.RequestBody {
	return &huma.RequestBody{Content: map[string]*huma.MediaType{"application/json": {Example: v}}}
}
