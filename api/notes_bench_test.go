package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/auth"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/blocknote/blocknotetest"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db/dbtest"
)

// The notes/tasks benchmarks run on one database seeded once and reused
// (dbtest.Seeded): one heavy user with 100,000 tasks across 5,000 notes
// whose content holds exactly those task blocks, and 900 other users with
// 1,000 task rows each, 1,000,000 tasks in all. Change tasksSeedKey when
// the seed changes.
const (
	tasksSeedKey      = "tasks1m_v1"
	heavyEmail        = "heavy@bench.consilium.example"
	heavyPassword     = "bench-password-heavy"
	heavyNotes        = 5_000
	heavyTasksPerNote = 20
	otherUsers        = 900
	otherNotesPerUser = 10
	otherTasksPerNote = 100
	// Due dates spread over two years from here.
	dueFrom = "2026-01-01"
	dueDays = 730
)

// tasksEnv is the real stack on the seeded database, signed in as the
// heavy user.
func tasksEnv(b *testing.B) (*apitest.Env, string) {
	pool := dbtest.Seeded(b, tasksSeedKey, seedTasks)
	e := apitest.New(b, apitest.Options{Pool: pool, Configure: func(c *config.Config) { c.Database.MaxConns = 8 }})
	res := e.Do(http.MethodPost, "/api/auth/login", map[string]any{"email": heavyEmail, "password": heavyPassword})
	if res.Status != http.StatusOK {
		b.Fatalf("login: %s", res)
	}
	return e, "Bearer " + res.Map(b)["access_token"].(string)
}

func seedTasks(ctx context.Context, pool *pgxpool.Pool) error {
	start := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "  seed %6.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	hash, err := auth.HashPassword(heavyPassword, config.Password{MemoryKiB: 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		return err
	}
	heavy := uuid.New()
	others := make([]uuid.UUID, otherUsers)
	userRows := [][]any{{heavy, heavyEmail, hash, "Heavy User"}}
	for i := range others {
		others[i] = uuid.New()
		userRows = append(userRows, []any{others[i], fmt.Sprintf("user%d@bench.consilium.example", i), nil, ""})
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "email", "password_hash", "full_name"}, pgx.CopyFromRows(userRows)); err != nil {
		return fmt.Errorf("copy users: %w", err)
	}
	logf("%d users", len(userRows))

	// The heavy user's notes: real documents, their task blocks indexed by
	// the same code a save runs.
	noteCols := []string{"id", "user_id", "title", "content", "content_hash", "plain_text", "preview", "tags", "linked_notes", "created_at", "updated_at"}
	taskCols := []string{"id", "user_id", "note_id", "block_id", "block_type", "position", "title", "description", "status",
		"priority", "due_date", "due_time", "size", "parent_task_id", "source", "metadata", "created_at", "updated_at"}
	var noteRows, taskRows [][]any
	base := time.Now().Add(-24 * time.Hour)
	tags := [][]string{{"work"}, {"health"}, {"work", "planning"}, {}}
	for i := range heavyNotes {
		raw := blocknotetest.Document(blocknotetest.Options{Blocks: 50, Tasks: heavyTasksPerNote, Seed: uint64(i + 1), DueFrom: dueFrom, DueDays: dueDays})
		doc, err := blocknote.Parse(raw, nil)
		if err != nil {
			return err
		}
		content, _ := doc.MarshalJSON()
		sum := sha256.Sum256(content)
		text := doc.PlainText()
		id := uuid.New()
		at := base.Add(time.Duration(i) * time.Second)
		preview := text
		if len(preview) > 200 {
			preview = preview[:200]
		}
		noteRows = append(noteRows, []any{id, heavy, fmt.Sprintf("Note %d", i), content, sum[:], text, preview, tags[i%len(tags)], []uuid.UUID{}, at, at})
		ids := map[string]uuid.UUID{}
		tasks := doc.Tasks()
		if len(tasks) != heavyTasksPerNote {
			return fmt.Errorf("generated note %d has %d tasks", i, len(tasks))
		}
		for _, t := range tasks {
			ids[t.BlockID] = uuid.New()
		}
		for _, t := range tasks {
			var parent, size, due, dueTime, priority any
			if t.ParentBlockID != "" {
				parent = ids[t.ParentBlockID]
			}
			if t.Size != nil {
				size = *t.Size
			}
			if t.DueDate != "" {
				d, _ := time.Parse(time.DateOnly, t.DueDate)
				due = d
			}
			if t.DueTime != "" {
				d, _ := time.Parse("15:04", t.DueTime)
				dueTime = pgtype.Time{Microseconds: int64(d.Hour()*3600+d.Minute()*60) * 1e6, Valid: true}
			}
			if t.Priority != "" {
				priority = string(t.Priority)
			}
			taskRows = append(taskRows, []any{ids[t.BlockID], heavy, id, t.BlockID, t.BlockType, int32(t.Position), t.Title,
				t.Description, string(t.Status), priority, due, dueTime, size, parent, "note", "{}", at, at})
		}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"notes"}, noteCols, pgx.CopyFromRows(noteRows)); err != nil {
		return fmt.Errorf("copy notes: %w", err)
	}
	logf("%d notes of the heavy user", len(noteRows))
	if _, err := copyTasks(ctx, pool, taskCols, pgx.CopyFromRows(taskRows)); err != nil {
		return fmt.Errorf("copy tasks: %w", err)
	}
	logf("%d tasks of the heavy user", len(taskRows))
	noteRows, taskRows = nil, nil

	// Everyone else: index rows in notes with empty content (the task index
	// is what the benchmarks query).
	var otherNotes [][]any
	var otherNoteIDs []uuid.UUID
	var otherNoteUsers []uuid.UUID
	for _, u := range others {
		for j := range otherNotesPerUser {
			id := uuid.New()
			otherNotes = append(otherNotes, []any{id, u, fmt.Sprintf("Other %d", j), []byte("[]"), []byte{}, "", "", []string{}, []uuid.UUID{}, base, base})
			otherNoteIDs, otherNoteUsers = append(otherNoteIDs, id), append(otherNoteUsers, u)
		}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"notes"}, noteCols, pgx.CopyFromRows(otherNotes)); err != nil {
		return fmt.Errorf("copy other notes: %w", err)
	}
	logf("%d notes of %d other users", len(otherNotes), otherUsers)
	r := rand.New(rand.NewPCG(1, 2))
	statuses := []string{"not_started", "not_started", "in_progress", "completed", "completed", "deferred"}
	priorities := []any{nil, "high", "medium", "low"}
	from, _ := time.Parse(time.DateOnly, dueFrom)
	n := 0
	total := len(otherNoteIDs) * otherTasksPerNote
	copied, err := copyTasks(ctx, pool, taskCols, pgx.CopyFromFunc(func() ([]any, error) {
		if n == total {
			return nil, nil
		}
		note, pos := n/otherTasksPerNote, n%otherTasksPerNote
		n++
		var due any
		if r.IntN(3) != 0 {
			due = from.AddDate(0, 0, r.IntN(dueDays))
		}
		return []any{uuid.New(), otherNoteUsers[note], otherNoteIDs[note], "b" + strconv.Itoa(pos), "task", int32(pos),
			"task " + strconv.Itoa(n), "", statuses[r.IntN(len(statuses))], priorities[r.IntN(len(priorities))],
			due, nil, nil, nil, "note", "{}", base, base}, nil
	}))
	if err != nil {
		return fmt.Errorf("copy other tasks: %w", err)
	}
	logf("%d tasks of other users", copied)

	// Every note has its first version and a search vector, as a save makes.
	if _, err := pool.Exec(ctx, `UPDATE notes SET search = setweight(to_tsvector('simple', title), 'A') || setweight(to_tsvector('simple', plain_text), 'B')`); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `INSERT INTO note_versions (note_id, version, user_id, title, content, parent_id, tags,
			is_pinned, is_archived, metadata, change, created_at)
		SELECT id, version, user_id, title, content, parent_id, tags, is_pinned, is_archived, metadata, 'create', created_at FROM notes`); err != nil {
		return err
	}
	logf("versions and search vectors")
	return nil
}

// copyTasks copies rows into tasks.
func copyTasks(ctx context.Context, pool *pgxpool.Pool, cols []string, src pgx.CopyFromSource) (int64, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	return conn.CopyFrom(ctx, pgx.Identifier{"tasks"}, cols, src)
}

func readAll(res *http.Response) error {
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return nil
}

func request(e *apitest.Env, method, path, bearer string, body []byte) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.Server.URL+path, rd)
	req.Header.Set("Authorization", bearer)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.Client.Do(req)
	if err != nil {
		return err
	}
	return readAll(res)
}

// BenchmarkListTasksFiltered: GET /api/tasks?status=not_started&status=
// in_progress&due_after=…&due_before=… (a two-week window, moving) for the
// user with 100,000 tasks, among 1,000,000.
func BenchmarkListTasksFiltered(b *testing.B) {
	e, bearer := tasksEnv(b)
	from, _ := time.Parse(time.DateOnly, dueFrom)
	var paths []string
	for w := range 100 {
		start := from.AddDate(0, 0, 7*w)
		paths = append(paths, fmt.Sprintf("/api/tasks?status=not_started&status=in_progress&due_after=%s&due_before=%s",
			start.Format(time.DateOnly), start.AddDate(0, 0, 13).Format(time.DateOnly)))
	}
	// Each window matches a few hundred of the user's tasks; a page is 50.
	var body struct{ Items []json.RawMessage }
	res := e.Do(http.MethodGet, paths[10], nil, "Authorization: "+bearer)
	res.JSON(b, &body)
	if len(body.Items) != 50 {
		b.Fatalf("expected a full page, got %d items: %s", len(body.Items), res.Body[:min(len(res.Body), 300)])
	}
	for _, clients := range []int{1, 4} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			for range b.N {
				next := make([]int, clients)
				r := apitest.Load(apitest.LoadOptions{Concurrency: clients, Duration: benchDuration()}, func(c int) error {
					next[c]++
					return request(e, http.MethodGet, paths[(next[c]*7+c*13)%len(paths)], bearer, nil)
				})
				r.Report(b)
			}
		})
	}
}

// benchNote creates a 500-block note with 100 task blocks for the heavy
// user and deletes it when the benchmark ends.
func benchNote(b *testing.B, e *apitest.Env, bearer string, seed uint64) (string, []any) {
	doc := blocknotetest.Blocks(blocknotetest.Options{Blocks: 500, Tasks: 100, Seed: seed, DueFrom: dueFrom, DueDays: dueDays})
	res := e.Do(http.MethodPost, "/api/notes", map[string]any{"title": "bench", "content": doc}, "Authorization: "+bearer)
	if res.Status != http.StatusCreated {
		b.Fatalf("create: %s", res)
	}
	id := res.Map(b)["id"].(string)
	b.Cleanup(func() { e.Do(http.MethodDelete, "/api/notes/"+id, nil, "Authorization: "+bearer) })
	var blocks []any
	for _, blk := range doc {
		blocks = append(blocks, blk)
	}
	return id, blocks
}

// BenchmarkSaveNote500: PUT /api/notes/{id} with a 500-block document holding
// 100 task blocks (about 230 KB of JSON), one paragraph edited each time:
// validate, index 100 tasks, write the note and its version. Each client
// saves its own note.
func BenchmarkSaveNote500(b *testing.B) {
	e, bearer := tasksEnv(b)
	for _, clients := range []int{1, 2} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			type target struct {
				path   string
				bodies [][]byte
			}
			targets := make([]target, clients)
			for c := range targets {
				id, doc := benchNote(b, e, bearer, uint64(1000+c))
				// 16 versions of the document, each with a different text in
				// one paragraph, sent in turn: every save is a change.
				para := -1
				for i, blk := range doc {
					if blk.(map[string]any)["type"] == "paragraph" {
						para = i
						break
					}
				}
				for v := range 16 {
					doc[para].(map[string]any)["content"] = []any{map[string]any{"type": "text", "text": fmt.Sprintf("edit %d of the plan", v), "styles": map[string]any{}}}
					body, _ := json.Marshal(map[string]any{"content": doc})
					targets[c].bodies = append(targets[c].bodies, body)
				}
				targets[c].path = "/api/notes/" + id
			}
			b.ReportMetric(float64(len(targets[0].bodies[0]))/1024, "KB/doc")
			for range b.N {
				n := make([]int, clients)
				r := apitest.Load(apitest.LoadOptions{Concurrency: clients, Duration: benchDuration()}, func(c int) error {
					n[c]++
					t := targets[c]
					return request(e, http.MethodPut, t.path, bearer, t.bodies[n[c]%len(t.bodies)])
				})
				r.Report(b)
			}
		})
	}
}

// BenchmarkSetTaskStatus500: PUT /api/tasks/{id}/status on task blocks of a
// 500-block, 100-task note, each request a real change (status flips):
// lock the note, rewrite the block in place, write the note, its version and
// the task row. With several clients they change different tasks of the
// same note, so they also wait for each other's lock.
func BenchmarkSetTaskStatus500(b *testing.B) {
	e, bearer := tasksEnv(b)
	for _, clients := range []int{1, 2} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			id, _ := benchNote(b, e, bearer, uint64(2000+clients))
			res := e.Do(http.MethodGet, "/api/notes/"+id+"/tasks", nil, "Authorization: "+bearer)
			var list struct {
				Items []struct {
					ID        string `json:"id"`
					BlockType string `json:"block_type"`
				} `json:"items"`
			}
			res.JSON(b, &list)
			var tasks []string
			for _, t := range list.Items {
				if t.BlockType == "task" {
					tasks = append(tasks, "/api/tasks/"+t.ID+"/status")
				}
			}
			if len(tasks) < clients {
				b.Fatalf("only %d task blocks", len(tasks))
			}
			bodies := [][]byte{[]byte(`{"status":"in_progress"}`), []byte(`{"status":"completed"}`)}
			for range b.N {
				n := make([]int, clients)
				r := apitest.Load(apitest.LoadOptions{Concurrency: clients, Duration: benchDuration()}, func(c int) error {
					n[c]++
					// Client c owns tasks c, c+clients, ...; each flips in turn.
					k := c + clients*(n[c]%(len(tasks)/clients))
					return request(e, http.MethodPut, tasks[k], bearer, bodies[(n[c]/(len(tasks)/clients))%2])
				})
				r.Report(b)
			}
		})
	}
}
