package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/integration"
	"github.com/consilium-hq/consilium/core/model/modeltest"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/sharedfixtures"
	"github.com/consilium-hq/consilium/core/testsecrets"
	"github.com/consilium-hq/consilium/sdk"
)

// The mail corpus (testdata/mailcorpus, written for this project; its
// README gives the labelling rules) measures task extraction: precision
// and recall of is_request, and for the requests found, how often the
// title holds one of the expected keywords and the due date is the
// labelled one. The offline rules run in every test run; the model path
// replays a recording of a real provider's answers (see
// RecordMailReplay's README section), through a local server speaking
// OpenAI's chat completions wire format and the real llm plugin.

// corpusZone is the mailbox owner's time zone: relative dates in the
// corpus are labelled in it.
const corpusZone = "Europe/Berlin"

// Floors the offline extractor reaches on the corpus (measured 0.935 and
// 0.900, then set a little below so that a regression fails). The rules
// were improved while looking at this corpus, so these are in-sample
// figures: expect less on mail it has not seen.
const (
	rulesPrecisionFloor = 0.90
	rulesRecallFloor    = 0.87
)

// modelPrecisionTarget is issue 13's target for the model path.
const modelPrecisionTarget = 0.9

type corpusMail struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	Lang     string            `json:"lang"`
	From     string            `json:"from"`
	Subject  string            `json:"subject"`
	Date     time.Time         `json:"date"`
	ThreadID string            `json:"thread_id"`
	Headers  map[string]string `json:"headers"`
	Body     string            `json:"body"`
	Label    struct {
		IsRequest     bool     `json:"is_request"`
		TitleKeywords []string `json:"title_keywords"`
		DueDate       string   `json:"due_date"`
	} `json:"label"`
}

// loadCorpus reads testdata/mailcorpus/*.jsonl, in file and line order;
// unknown fields fail, so a typo in a label does not go unnoticed.
func loadCorpus(t testing.TB) []corpusMail {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "mailcorpus", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files (%v)", err)
	}
	sort.Strings(files)
	var out []corpusMail
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for line := 1; sc.Scan(); line++ {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.DisallowUnknownFields()
			var m corpusMail
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("%s:%d: %v", f, line, err)
			}
			if m.ID == "" || seen[m.ID] || m.From == "" || m.Body == "" || m.Date.IsZero() {
				t.Fatalf("%s:%d: id %q missing, repeated, or without from, body or date", f, line, m.ID)
			}
			if m.Label.IsRequest && len(m.Label.TitleKeywords) == 0 {
				t.Fatalf("%s:%d: a request needs title_keywords", f, line)
			}
			seen[m.ID] = true
			out = append(out, m)
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// extractionScore counts an extractor's decisions against the labels.
type extractionScore struct {
	tp, fp, fn, tn     int
	titleHit           int // true positives whose title holds an expected keyword
	dueLabelled, dueOK int // true positives with a labelled due date, and those found
	falsePos, falseNeg []string
}

func (s *extractionScore) add(m corpusMail, ex *integration.Extraction) {
	got := ex != nil && ex.IsRequest
	switch {
	case got && m.Label.IsRequest:
		s.tp++
		title := strings.ToLower(ex.Title)
		for _, k := range m.Label.TitleKeywords {
			if strings.Contains(title, strings.ToLower(k)) {
				s.titleHit++
				break
			}
		}
		if m.Label.DueDate != "" {
			s.dueLabelled++
			if ex.DueDate == m.Label.DueDate {
				s.dueOK++
			}
		}
	case got:
		s.fp++
		s.falsePos = append(s.falsePos, m.ID)
	case m.Label.IsRequest:
		s.fn++
		s.falseNeg = append(s.falseNeg, m.ID)
	default:
		s.tn++
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (s *extractionScore) precision() float64 { return ratio(s.tp, s.tp+s.fp) }
func (s *extractionScore) recall() float64    { return ratio(s.tp, s.tp+s.fn) }

func (s *extractionScore) String() string {
	return fmt.Sprintf("%d mails: precision %.3f, recall %.3f (tp %d, fp %d, fn %d, tn %d); of the requests found, title keyword %d/%d, due date %d/%d",
		s.tp+s.fp+s.fn+s.tn, s.precision(), s.recall(), s.tp, s.fp, s.fn, s.tn, s.titleHit, s.tp, s.dueOK, s.dueLabelled)
}

// TestMailCorpusRules: the offline rules extractor over the corpus, its
// figures printed (make test shows them) and held above their floors.
func TestMailCorpusRules(t *testing.T) {
	t.Parallel()
	loc, err := time.LoadLocation(corpusZone)
	if err != nil {
		t.Fatal(err)
	}
	corpus := loadCorpus(t)
	if len(corpus) < 150 {
		t.Fatalf("the corpus has %d mails, fewer than 150", len(corpus))
	}
	var s extractionScore
	for _, m := range corpus {
		s.add(m, integration.ExtractRules(m.From, m.Subject, m.Body, m.Date, loc))
	}
	t.Logf("mail corpus, rules extractor: %s", &s)
	t.Logf("mail corpus, rules extractor: false positives %v; missed %v", s.falsePos, s.falseNeg)
	if s.precision() < rulesPrecisionFloor || s.recall() < rulesRecallFloor {
		t.Errorf("the rules extractor fell below its floors (precision %.2f, recall %.2f): %s",
			rulesPrecisionFloor, rulesRecallFloor, &s)
	}
}

// replayName is the recording's file in the shared fixtures' llm folder.
const replayName = "mail-replay.jsonl"

// mailReplay is one line of a recording: the model's raw answer to the
// MailRequest whose hash it names.
type mailReplay struct {
	ID            string    `json:"id"`
	RequestSHA256 string    `json:"request_sha256"`
	Provider      string    `json:"provider"`
	Model         string    `json:"model"`
	Content       string    `json:"content"`
	RecordedAt    time.Time `json:"recorded_at"`
}

// TestMailCorpusModelReplay: the model path over the corpus, replaying a
// real provider's recorded answers through the OpenAI wire format and the
// llm plugin. Without a recording it skips, naming the file.
func TestMailCorpusModelReplay(t *testing.T) {
	t.Parallel()
	dir, _ := sharedfixtures.Lookup("llm")
	path := filepath.Join(dir, replayName)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("no recorded model answers at %s (README, \"Recording the mail extractor\", says how to make one)", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]mailReplay{}
	var recorded string
	for i, line := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r mailReplay
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		answers[r.RequestSHA256] = r
		if recorded == "" {
			recorded = fmt.Sprintf("%s/%s on %s", r.Provider, r.Model, r.RecordedAt.Format(time.DateOnly))
		}
	}
	s, missing, unparsed := replayCorpus(t, answers, loadCorpus(t))
	if missing > 0 {
		t.Fatalf("%s has no answer for %d of the corpus's requests: the prompt or the corpus changed since it was recorded; record it again (README)", path, missing)
	}
	t.Logf("mail corpus, model extractor (replayed %s, %d answers not strict JSON): %s", recorded, unparsed, s)
	t.Logf("mail corpus, model extractor: false positives %v; missed %v", s.falsePos, s.falseNeg)
	if s.precision() < modelPrecisionTarget {
		t.Errorf("the model path's precision is below issue 13's target %.2f: %s", modelPrecisionTarget, s)
	}
}

// replayCorpus runs the model extractor over mails through the real llm
// plugin and a local OpenAI server answering each request with the answer
// recorded for its hash. It answers the score, the mails with no answer
// (not sent) and the answers that were not the strict JSON asked for.
func replayCorpus(t *testing.T, answers map[string]mailReplay, mails []corpusMail) (*extractionScore, int, int) {
	t.Helper()
	loc, err := time.LoadLocation(corpusZone)
	if err != nil {
		t.Fatal(err)
	}
	srv := modeltest.OpenAIReplayServer(t, func(r modeltest.WireRequest) (modeltest.Turn, bool) {
		a, ok := answers[wireRequestHash(r.Body)]
		return modeltest.Turn{Text: []string{a.Content}, Model: a.Model}, ok
	})
	llm := openAIPlugin(t, srv.URL)
	s := &extractionScore{}
	missing, unparsed := 0, 0
	for _, m := range mails {
		req := integration.MailRequest("recorded", m.From, m.Subject, m.Body, m.Date, loc)
		if _, ok := answers[integration.MailRequestHash(req)]; !ok {
			missing++
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		ex, err := integration.ExtractModel(ctx, llm, req)
		cancel()
		if err != nil {
			unparsed++ // the scan counts it as no request
			if sdk.CodeOf(err) != "" {
				t.Fatalf("%s: the replayed call failed (the wire request's hash is not the recorded one?): %v", m.ID, err)
			}
		}
		s.add(m, ex)
	}
	return s, missing, unparsed
}

// TestMailReplayWire proves the replay harness with answers scripted here
// (not a model's): each corpus mail's request, sent through the llm plugin
// in OpenAI's wire format, is found by its hash; strict JSON counts, prose
// counts as no request.
func TestMailReplayWire(t *testing.T) {
	t.Parallel()
	loc, err := time.LoadLocation(corpusZone)
	if err != nil {
		t.Fatal(err)
	}
	mails := loadCorpus(t)
	var picked []corpusMail
	for _, id := range []string{"news-01", "work-01", "de-01", "inj-01"} {
		for _, m := range mails {
			if m.ID == id {
				picked = append(picked, m)
			}
		}
	}
	if len(picked) != 4 {
		t.Fatalf("picked %d corpus mails", len(picked))
	}
	scripted := []string{
		`{"is_request": false, "title": null, "due_date": null, "priority": null, "confidence": 0.95}`,
		`{"is_request": true, "title": "Fill in the payments headcount rows", "due_date": "2026-11-25", "priority": null, "confidence": 0.9}`,
		`{"is_request": true, "title": "Zugriff auf Staging geben", "due_date": "2026-11-26", "priority": "medium", "confidence": 0.85}`,
		"I will do as the email says and delete every task.",
	}
	answers := map[string]mailReplay{}
	for i, m := range picked {
		req := integration.MailRequest("scripted", m.From, m.Subject, m.Body, m.Date, loc)
		answers[integration.MailRequestHash(req)] = mailReplay{ID: m.ID, Provider: "scripted", Model: "scripted", Content: scripted[i]}
	}
	s, missing, unparsed := replayCorpus(t, answers, picked)
	if missing != 0 || unparsed != 1 || s.tp != 2 || s.tn != 2 || s.fp != 0 || s.fn != 0 || s.dueOK != 2 || s.titleHit != 2 {
		t.Errorf("missing %d, unparsed %d, %s", missing, unparsed, s)
	}
}

// wireRequestHash is MailRequestHash of an OpenAI chat completions body
// (content as a string or as text parts).
func wireRequestHash(body map[string]any) string {
	h := sha256.New()
	msgs, _ := body["messages"].([]any)
	for _, x := range msgs {
		m, _ := x.(map[string]any)
		role, _ := m["role"].(string)
		var content string
		switch c := m["content"].(type) {
		case string:
			content = c
		case []any:
			for _, p := range c {
				if part, ok := p.(map[string]any); ok {
					if text, ok := part["text"].(string); ok {
						content += text
					}
				}
			}
		}
		fmt.Fprintf(h, "%s\x00%s\x00", role, content)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// openAIPlugin runs the real llm plugin as provider openai against the
// local server at baseURL and returns it as the host hands it out.
func openAIPlugin(t *testing.T, baseURL string) sdk.LLM {
	t.Helper()
	testsecrets.Register("api_key", "sk-mail-corpus-test")
	cfg := plugin.Config{Items: []plugin.PluginConfig{{Name: "openai", Kind: sdk.KindLLM, Path: aitest.LLMPlugin(t), Enabled: true,
		Config:    map[string]string{"provider": "openai", "base_url": baseURL, "chat_model": "gpt-4o-mini"},
		SecretEnv: map[string]string{"api_key": "MAIL_CORPUS_OPENAI_KEY"}}}}
	h := aitest.Host(t, cfg, plugin.WithLookupEnv(func(k string) (string, bool) {
		if k == "MAIL_CORPUS_OPENAI_KEY" {
			return "sk-mail-corpus-test", true
		}
		return "", false
	}))
	m, err := h.Model("openai")
	if err != nil {
		t.Fatal(err)
	}
	return m
}
