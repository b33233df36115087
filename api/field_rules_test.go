package api_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
)

// Hostile values of free JSON objects (metadata, preferences), as request
// body JSON.
var (
	ruleNULObject       = `{"a":"x\u0000y"}`
	ruleSurrogateObject = `{"a":"\ud800"}`
	ruleBadUTF8Object   = "{\"a\":\"\xff\"}"
	ruleDeepObject      = strings.Repeat(`{"a":`, 300) + `1` + strings.Repeat(`}`, 300)
	ruleBigObject       = `{"a":"` + strings.Repeat("x", 65<<10) + `"}`
)

// hostileInput is a request that must answer 422 naming the field at loc.
type hostileInput struct {
	method, path, body string
	loc                string
}

// requireRefused sends each request (path "{id}" replaced by id) and checks
// that it answers 422 naming the field and that state, read before and
// after, did not change.
func requireRefused(t *testing.T, e *apitest.Env, auth []string, id string, state func() string, cases map[string]hostileInput) {
	t.Helper()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			before := state()
			var body any
			if c.body != "" {
				body = c.body
			}
			res := e.Do(c.method, strings.ReplaceAll(c.path, "{id}", id), body, auth...)
			p := requireProblem(t, res, http.StatusUnprocessableEntity)
			var locs []string
			for _, fe := range p["errors"].([]any) {
				locs = append(locs, fe.(map[string]any)["location"].(string))
			}
			require.Contains(t, locs, c.loc, res.String())
			require.Equal(t, before, state(), "a refused request changed nothing")
		})
	}
}

// metadataCases are the hostile metadata objects for a body with the
// other fields given (a JSON fragment ending with a comma, or "").
func metadataCases(method, path, fields string) map[string]hostileInput {
	out := map[string]hostileInput{}
	for name, obj := range map[string]string{"NUL": ruleNULObject, "lone surrogate": ruleSurrogateObject,
		"invalid UTF-8": ruleBadUTF8Object, "300 deep": ruleDeepObject, "65 KiB": ruleBigObject} {
		out["metadata with "+name] = hostileInput{method, path, `{` + fields + `"metadata":` + obj + `}`, "body.metadata"}
	}
	return out
}

func mergeHostile(ms ...map[string]hostileInput) map[string]hostileInput {
	out := map[string]hostileInput{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestTaskFieldRules(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()
	res := e.Do(http.MethodPost, "/api/tasks", map[string]any{"title": "Book the dentist"}, u.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	id := res.Map(t)["id"].(string)
	state := func() string {
		tasks := e.Do(http.MethodGet, "/api/tasks?limit=200", nil, u.Bearer())
		notes := e.Do(http.MethodGet, "/api/notes?is_archived=any&limit=200", nil, u.Bearer())
		return tasks.String() + notes.String()
	}
	requireRefused(t, e, []string{u.Bearer()}, id, state, mergeHostile(map[string]hostileInput{
		"create: NUL in title":            {"POST", "/api/tasks", `{"title":"a\u0000b"}`, "body.title"},
		"create: blank title":             {"POST", "/api/tasks", `{"title":"  "}`, "body.title"},
		"create: NUL in description":      {"POST", "/api/tasks", `{"title":"a","description":"a\u0000b"}`, "body.description"},
		"create: NUL in source_reference": {"POST", "/api/tasks", `{"title":"a","source_reference":"a\u0000b"}`, "body.source_reference"},
		"update: NUL in title":            {"PUT", "/api/tasks/{id}", `{"title":"a\u0000b"}`, "body.title"},
		"update: NUL in description":      {"PUT", "/api/tasks/{id}", `{"description":"a\u0000b"}`, "body.description"},
		"update: NUL in source_reference": {"PUT", "/api/tasks/{id}", `{"source_reference":"a\u0000b"}`, "body.source_reference"},
		"q: invalid UTF-8":                {"GET", "/api/tasks?q=%ff", "", "query.q"},
		"q: NUL":                          {"GET", "/api/tasks?q=a%00b", "", "query.q"},
		"cursor not ours":                 {"GET", "/api/tasks?cursor=%ff", "", "query.cursor"},
	}, prefixedHostile("create: ", metadataCases("POST", "/api/tasks", `"title":"a",`)), prefixedHostile("update: ", metadataCases("PUT", "/api/tasks/{id}", ""))))

	t.Run("the Inbox still takes tasks after the refusals", func(t *testing.T) {
		res := e.Do(http.MethodPost, "/api/tasks", map[string]any{"title": "Second"}, u.Bearer())
		require.Equal(t, http.StatusCreated, res.Status, res.String())
	})
}

func TestNoteFieldRules(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()
	res := e.Do(http.MethodPost, "/api/notes", `{"title":"Week plan","tags":["work"]}`, u.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	id := res.Map(t)["id"].(string)
	state := func() string {
		return e.Do(http.MethodGet, "/api/notes?is_archived=any&limit=200", nil, u.Bearer()).String() +
			e.Do(http.MethodGet, "/api/notes/"+id, nil, u.Bearer()).String()
	}
	deepTaskMeta := strings.ReplaceAll(ruleDeepObject, `"`, `\"`)
	requireRefused(t, e, []string{u.Bearer()}, id, state, mergeHostile(map[string]hostileInput{
		"create: NUL in title":       {"POST", "/api/notes", `{"title":"a\u0000b"}`, "body.title"},
		"create: 51 tags":            {"POST", "/api/notes", `{"tags":[` + strings.Repeat(`"a",`, 50) + `"a"]}`, "body.tags"},
		"update: 51 tags":            {"PUT", "/api/notes/{id}", `{"tags":[` + strings.Repeat(`"a",`, 50) + `"a"]}`, "body.tags"},
		"create: NUL in a tag":       {"POST", "/api/notes", `{"tags":["ok","a\u0000b"]}`, "body.tags[1]"},
		"create: unknown field":      {"POST", "/api/notes", `{"title":"a","titel":"b"}`, "body.titel"},
		"update: unknown field":      {"PUT", "/api/notes/{id}", `{"title":"a","is_favourite":true}`, "body.is_favourite"},
		"update: NUL in title":       {"PUT", "/api/notes/{id}", `{"title":"a\u0000b"}`, "body.title"},
		"update: NUL in a tag":       {"PUT", "/api/notes/{id}", `{"tags":["a\u0000b"]}`, "body.tags[0]"},
		"update: deep task metadata": {"PUT", "/api/notes/{id}", `{"content":[{"id":"t","type":"task","props":{"metadata":"` + deepTaskMeta + `"},"content":"x"}]}`, "body.content[0].props.metadata"},
		"q: invalid UTF-8":           {"GET", "/api/notes?q=%ff", "", "query.q"},
		"q: NUL":                     {"GET", "/api/notes?q=a%00b", "", "query.q"},
		"tag: invalid UTF-8":         {"GET", "/api/notes?tag=%ff", "", "query.tag"},
		"tag: NUL":                   {"GET", "/api/notes?tag=a%00b", "", "query.tag"},
		"forged cursor with NUL": {"GET", "/api/notes?sort=title&cursor=" +
			base64.RawURLEncoding.EncodeToString([]byte(`{"s":"title","x":"a\u0000","id":"`+id+`"}`)), "", "query.cursor"},
	}, prefixedHostile("create: ", metadataCases("POST", "/api/notes", `"title":"a",`)), prefixedHostile("update: ", metadataCases("PUT", "/api/notes/{id}", ""))))
}

func TestPlanningFieldRules(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()
	res := e.Do(http.MethodPost, "/api/goals", map[string]any{"title": "Run a half marathon"}, u.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	goal := res.Map(t)["id"].(string)
	res = e.Do(http.MethodPost, "/api/reflections", map[string]any{"content": "A good week", "reflection_type": "weekly"}, u.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	reflection := res.Map(t)["id"].(string)
	state := func() string {
		return e.Do(http.MethodGet, "/api/goals", nil, u.Bearer()).String() +
			e.Do(http.MethodGet, "/api/reflections", nil, u.Bearer()).String()
	}
	requireRefused(t, e, []string{u.Bearer()}, goal, state, mergeHostile(map[string]hostileInput{
		"create goal: NUL in title":       {"POST", "/api/goals", `{"title":"a\u0000b"}`, "body.title"},
		"create goal: NUL in description": {"POST", "/api/goals", `{"title":"a","description":"a\u0000b"}`, "body.description"},
		"update goal: NUL in title":       {"PUT", "/api/goals/{id}", `{"title":"a\u0000b"}`, "body.title"},
		"update goal: NUL in description": {"PUT", "/api/goals/{id}", `{"description":"a\u0000b"}`, "body.description"},
		"create reflection: NUL":          {"POST", "/api/reflections", `{"content":"a\u0000b","reflection_type":"daily"}`, "body.content"},
		"update reflection: NUL":          {"PUT", "/api/reflections/" + reflection, `{"content":"a\u0000b"}`, "body.content"},
		"goals q: invalid UTF-8":          {"GET", "/api/goals?q=%ff", "", "query.q"},
		"goals q: NUL":                    {"GET", "/api/goals?q=a%00b", "", "query.q"},
		"reflections q: invalid UTF-8":    {"GET", "/api/reflections?q=%ff", "", "query.q"},
		"reflections q: NUL":              {"GET", "/api/reflections?q=a%00b", "", "query.q"},
	}, prefixedHostile("create goal: ", metadataCases("POST", "/api/goals", `"title":"a",`)), prefixedHostile("update goal: ", metadataCases("PUT", "/api/goals/{id}", "")),
		prefixedHostile("create reflection: ", metadataCases("POST", "/api/reflections", `"content":"a","reflection_type":"daily",`)),
		prefixedHostile("update reflection: ", metadataCases("PUT", "/api/reflections/"+reflection, ""))))
}

func prefixedHostile(p string, m map[string]hostileInput) map[string]hostileInput {
	out := map[string]hostileInput{}
	for k, v := range m {
		out[p+k] = v
	}
	return out
}

func TestUserFieldRules(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()
	res := e.Do(http.MethodPut, "/api/users/preferences", `{"timezone":"Europe/Zurich","week_start":"sunday","theme":"dark"}`, u.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	state := func() string { return e.Do(http.MethodGet, "/api/users/me", nil, u.Bearer()).String() }
	prefs := func(body, loc string) hostileInput { return hostileInput{"PUT", "/api/users/preferences", body, loc} }
	requireRefused(t, e, []string{u.Bearer()}, "", state, map[string]hostileInput{
		"NUL in full_name":      {"PUT", "/api/users/me", `{"full_name":"a\u0000b"}`, "body.full_name"},
		"NUL in email":          {"PUT", "/api/users/me", `{"email":"a\u0000b@example.com"}`, "body.email"},
		"timezone on Mars":      prefs(`{"timezone":"Mars/Olympus"}`, "body.timezone"),
		"timezone a path":       prefs(`{"timezone":"../../etc/passwd"}`, "body.timezone"),
		"timezone Local":        prefs(`{"timezone":"Local"}`, "body.timezone"),
		"timezone empty":        prefs(`{"timezone":""}`, "body.timezone"),
		"timezone not a string": prefs(`{"timezone":3}`, "body.timezone"),
		"week_start funday":     prefs(`{"week_start":"funday"}`, "body.week_start"),
		"preferences with NUL":  prefs(ruleNULObject, "body"),
		"preferences 300 deep":  prefs(ruleDeepObject, "body"),
	})
	t.Run("the schema describes the known keys", func(t *testing.T) {
		res := e.Do(http.MethodGet, "/api/openapi.json", nil)
		require.Equal(t, http.StatusOK, res.Status)
		var doc struct {
			Paths map[string]map[string]struct {
				RequestBody struct {
					Content map[string]struct {
						Schema struct {
							Properties           map[string]any `json:"properties"`
							AdditionalProperties any            `json:"additionalProperties"`
						} `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
			} `json:"paths"`
		}
		res.JSON(t, &doc)
		prefs := doc.Paths["/users/preferences"]["put"].RequestBody.Content["application/json"].Schema
		require.Contains(t, prefs.Properties, "timezone")
		require.Contains(t, prefs.Properties, "week_start")
		require.Equal(t, true, prefs.AdditionalProperties)
	})
	t.Run("unknown keys stay free-form", func(t *testing.T) {
		res := e.Do(http.MethodPut, "/api/users/preferences", `{"timezone":"America/Argentina/Buenos_Aires","week_start":"Monday","x":{"y":[1]}}`, u.Bearer())
		require.Equal(t, http.StatusOK, res.Status, res.String())
		require.Equal(t, map[string]any{"y": []any{1.0}}, res.Map(t)["x"])
	})
}

func TestAuthFieldRules(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()
	state := func() string {
		return e.Do(http.MethodPost, "/api/auth/login", map[string]any{"email": u.Email, "password": u.Password}).String()[:3]
	}
	requireRefused(t, e, nil, "", state, map[string]hostileInput{
		"login: NUL in email":        {"POST", "/api/auth/login", `{"email":"a\u0000b@example.com","password":"long enough pw"}`, "body.email"},
		"register: NUL in email":     {"POST", "/api/auth/register", `{"email":"a\u0000b@example.com","password":"long enough pw"}`, "body.email"},
		"register: NUL in full_name": {"POST", "/api/auth/register", `{"email":"nul-name@example.com","password":"long enough pw","full_name":"a\u0000"}`, "body.full_name"},
	})
	res := e.Do(http.MethodPost, "/api/auth/login", map[string]any{"email": "nul-name@example.com", "password": "long enough pw"})
	require.Equal(t, http.StatusUnauthorized, res.Status, "the refused registration made no account: %s", res)
	t.Run("a User-Agent that is not UTF-8 is cleaned, not a 500", func(t *testing.T) {
		for _, ua := range []string{"probe \xff", "probe \xed\xa0\x80", strings.Repeat("é", 300)} {
			res := e.Do(http.MethodPost, "/api/auth/login", map[string]any{"email": u.Email, "password": u.Password}, "User-Agent: "+ua)
			require.Equal(t, http.StatusOK, res.Status, res.String())
		}
		res := e.Do(http.MethodPost, "/api/auth/register", map[string]any{"email": "ua-probe@example.com", "password": "long enough pw"}, "User-Agent: \xff")
		require.Equal(t, http.StatusCreated, res.Status, res.String())
	})
}

func TestAIFieldRules(t *testing.T) {
	t.Parallel()
	b := setupAI(t, nil)
	state := func() string { return b.do(http.MethodGet, "/api/ai/documents", nil).String() }
	requireRefused(t, b.e, []string{b.u.Bearer()}, "", state, map[string]hostileInput{
		"RAG query with NUL":      {"POST", "/api/ai/rag/query", `{"query":"a\u0000b"}`, "body.query"},
		"document title with NUL": {"POST", "/api/ai/documents/process", `{"title":"a\u0000b","text":"Some text."}`, "body.title"},
	})
}
