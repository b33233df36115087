package integration

// Mail: the messages a mailbox sync brings are stored (emails) in the
// page's transaction, with an integration.mail_scan job for the
// connection. The scan reads them one at a time: a reply to a message that
// became a task is attached to the task's reference; any other message goes
// to an extractor (the rules offline, else one model call that holds no
// tools and answers strict JSON). Go code, not the model, acts on the
// answer: a request sure enough becomes a task in the user's "Email" note
// (source email, a reference of system email), anything less sure a
// suggestion the user accepts or dismisses. Mail text is untrusted: it
// reaches no model that holds tools, and nothing in it deletes or completes
// anything.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/page"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/sdk"
)

// SystemEmail is the reference system of tasks made from mail.
const SystemEmail = "email"

// Extractors.
const (
	ExtractorRules = "rules"
	ExtractorModel = "model"
)

// Suggestion states.
const (
	SuggestionPending   = "pending"
	SuggestionAccepted  = "accepted"
	SuggestionDismissed = "dismissed"
)

const (
	maxMailBody    = 32 << 10 // stored body, in bytes
	maxMailText    = 8000     // characters an extractor reads
	maxReplies     = 50       // replies kept on a reference
	defaultMailMin = 0.7
)

// MailScanArgs is the integration.mail_scan job: the unscanned mail of one
// connection.
type MailScanArgs struct {
	ConnectionID uuid.UUID `json:"connection_id"`
}

func (MailScanArgs) Kind() string { return "integration.mail_scan" }

// mailData is what the mail plugins put in Record.Data.
type mailData struct {
	MessageID  string   `json:"message_id"`
	ThreadID   string   `json:"thread_id"`
	InReplyTo  string   `json:"in_reply_to"`
	References []string `json:"references"`
}

// headerID is a Message-ID without its angle brackets and spaces.
func headerID(s string) string {
	return strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "<>"))
}

// clipBytes cuts s to at most n bytes on a rune boundary (and makes it
// valid UTF-8 without NULs).
func clipBytes(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8ValidEnd(s) {
		s = s[:len(s)-1]
	}
	return s
}

func utf8ValidEnd(s string) bool { return strings.ToValidUTF8(s, "") == s }

// storeEmail writes a mail record; it answers whether the message is new.
func (s *Service) storeEmail(ctx context.Context, p *syncPage, r *sdk.Record) (bool, error) {
	e := r.Email
	var d mailData
	if len(r.Data) > 0 {
		_ = json.Unmarshal(r.Data, &d) // a record without the ids is still mail
	}
	thread := e.ThreadID
	if thread == "" {
		thread = d.ThreadID
	}
	refs := make([]string, 0, len(d.References))
	for _, x := range d.References {
		if h := headerID(x); h != "" && len(refs) < 100 {
			refs = append(refs, clip(h, 500))
		}
	}
	received := e.ReceivedAt
	if received.IsZero() {
		received = p.now
	}
	tag, err := p.tx.Exec(ctx, `INSERT INTO emails (user_id, connection_id, provider, message_id, thread_id, header_message_id,
			in_reply_to, "references", sender, subject, snippet, body, url, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (user_id, provider, message_id) DO NOTHING`,
		p.c.UserID, p.c.ID, p.c.Provider, clip(r.ExternalID, 500), clip(thread, 500), clip(headerID(d.MessageID), 500),
		clip(headerID(d.InReplyTo), 500), refs, clip(e.From, 500), clip(e.Subject, 1000), clip(e.Snippet, 1000),
		clipBytes(e.Body, maxMailBody), clip(r.URL, 2000), received)
	if err != nil {
		return false, fmt.Errorf("store message %s: %w", r.ExternalID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// queueMailScan inserts the connection's scan job, unique while one is
// waiting or running (the scan completes itself under the connection's row
// lock after finding no more mail, so mail stored meanwhile always gets a
// job).
func (s *Service) queueMailScan(ctx context.Context, tx db.Tx, connID uuid.UUID) error {
	_, err := tx.InsertJob(ctx, MailScanArgs{ConnectionID: connID}, &river.InsertOpts{Queue: s.o.Queue, MaxAttempts: 8,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{rivertype.JobStateAvailable,
			rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateRetryable}}})
	return err
}

// email is a stored message as the scan reads it.
type email struct {
	ID         uuid.UUID
	UserID     uuid.UUID
	Provider   string
	MessageID  string
	ThreadID   string
	HeaderID   string
	InReplyTo  string
	References []string
	From       string
	Subject    string
	Snippet    string
	Body       string
	URL        string
	ReceivedAt time.Time
}

const emailColumns = `id, user_id, provider, message_id, thread_id, header_message_id, in_reply_to, "references", sender, subject,
	snippet, body, url, received_at`

func scanEmail(row pgx.Row) (*email, error) {
	var e email
	err := row.Scan(&e.ID, &e.UserID, &e.Provider, &e.MessageID, &e.ThreadID, &e.HeaderID, &e.InReplyTo, &e.References,
		&e.From, &e.Subject, &e.Snippet, &e.Body, &e.URL, &e.ReceivedAt)
	return &e, err
}

// maxScanPerJob bounds one job's messages; the job continues in the next.
const maxScanPerJob = 500

// scanBatch is how many messages one transaction of the scan acts on: all
// the tasks of a batch are placed with one write of the Email note (one
// version), however many they are.
const scanBatch = 100

// RunMailScan works an integration.mail_scan job: the connection's
// unscanned mail, oldest first, in batches (scanMessages). Each message is
// scanned once (its row is locked and marked in the transaction that acts
// on it), so a job run twice makes nothing twice.
func (s *Service) RunMailScan(ctx context.Context, job *river.Job[MailScanArgs]) error {
	for taken := 0; taken < maxScanPerJob; {
		rows, err := s.o.DB.Pool.Query(ctx, `SELECT `+emailColumns+` FROM emails WHERE connection_id = $1 AND scanned_at IS NULL
			ORDER BY received_at, id LIMIT $2`, job.Args.ConnectionID, min(scanBatch, maxScanPerJob-taken))
		if err != nil {
			return err
		}
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*email, error) { return scanEmail(r) })
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			taken++
			done := false
			err := s.o.DB.InTx(ctx, func(tx db.Tx) error {
				// Under the connection's row lock (which a sync page holds
				// while it stores mail): no mail is stored between this
				// look and the job's completion.
				if _, err := tx.Exec(ctx, `SELECT 1 FROM connections WHERE id = $1 FOR UPDATE`, job.Args.ConnectionID); err != nil {
					return err
				}
				var more bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM emails WHERE connection_id = $1 AND scanned_at IS NULL)`,
					job.Args.ConnectionID).Scan(&more); err != nil {
					return err
				}
				if more {
					return nil
				}
				done = true
				_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx.Tx, job)
				return err
			})
			if err != nil {
				return err
			}
			if done {
				return nil
			}
			continue
		}
		taken += len(batch)
		if err := s.scanMessages(ctx, batch); err != nil {
			return fmt.Errorf("scan messages from %s: %w", batch[0].MessageID, err)
		}
	}
	// More mail than one job takes: the next job continues.
	return s.o.DB.InTx(ctx, func(tx db.Tx) error {
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx.Tx, job); err != nil {
			return err
		}
		return s.queueMailScan(ctx, tx, job.Args.ConnectionID)
	})
}

// Outcomes of a scanned message.
const (
	outcomeNone       = "none"
	outcomeTask       = "task"
	outcomeSuggestion = "suggestion"
	outcomeReply      = "reply"
)

// scanPlan is what the scan does with one message of a batch.
type scanPlan struct {
	e         *email
	outcome   string
	ex        *Extraction
	extractor string
}

// answers reports whether e answers o (what threadRef looks for: named in
// In-Reply-To or References, or in the same thread, and not later).
func answers(e, o *email) bool {
	if o.ID == e.ID || o.UserID != e.UserID || o.Provider != e.Provider || o.ReceivedAt.After(e.ReceivedAt) {
		return false
	}
	if o.ThreadID != "" && o.ThreadID == e.ThreadID {
		return true
	}
	if o.HeaderID == "" {
		return false
	}
	return o.HeaderID == e.InReplyTo || slices.Contains(e.References, o.HeaderID)
}

// scanMessages scans a batch of one connection's messages (oldest first).
// First, outside any transaction, each message is planned in order: a
// reply to mail that became a task (stored, or planned earlier in the
// batch) is attached to that task; any other goes to the extractor (the
// model may take seconds, so no row is locked meanwhile), a request sure
// enough becomes a task, a less sure one a suggestion. Then one
// transaction locks the messages still unscanned (another scan may have
// taken some: those are left alone) and acts: every task of the batch in
// one write of the Email note with its references, then the replies in
// order, the suggestions and the marks. A reply whose task is not there
// after all stays unscanned, and the next batch plans it again.
func (s *Service) scanMessages(ctx context.Context, batch []*email) error {
	userID := batch[0].UserID
	var reviewAll bool
	if err := s.o.DB.Pool.QueryRow(ctx, `SELECT coalesce((preferences->>'email_review_all')::boolean, false) FROM users WHERE id = $1`,
		userID).Scan(&reviewAll); err != nil {
		reviewAll = false
	}
	answered, err := threadRefs(ctx, s.o.DB.Pool, batch)
	if err != nil {
		return err
	}
	plans := make([]*scanPlan, 0, len(batch))
	for _, e := range batch {
		p := &scanPlan{e: e}
		plans = append(plans, p)
		for _, o := range plans[:len(plans)-1] {
			if o.outcome == outcomeTask && answers(e, o.e) {
				p.outcome = outcomeReply
				break
			}
		}
		if p.outcome == "" && answered[e.ID] {
			p.outcome = outcomeReply
		}
		if p.outcome != "" {
			continue
		}
		p.ex, p.extractor = s.extract(ctx, e)
		switch {
		case p.ex == nil || !p.ex.IsRequest:
			p.outcome = outcomeNone
		case p.ex.Confidence >= s.mailThreshold() && !reviewAll:
			p.outcome = outcomeTask
		default:
			p.outcome = outcomeSuggestion
		}
	}

	return s.o.DB.InTx(ctx, func(tx db.Tx) error {
		ids := make([]uuid.UUID, len(batch))
		for i, e := range batch {
			ids[i] = e.ID
		}
		rows, err := tx.Query(ctx, `SELECT id FROM emails WHERE id = ANY($1) AND scanned_at IS NULL ORDER BY id FOR UPDATE`, ids)
		if err != nil {
			return err
		}
		locked, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		mine := make(map[uuid.UUID]bool, len(locked))
		for _, id := range locked {
			mine[id] = true
		}
		var marked []*scanPlan
		var tasks []*scanPlan
		for _, p := range plans {
			if mine[p.e.ID] && p.outcome == outcomeTask {
				tasks = append(tasks, p)
			}
		}
		if len(tasks) > 0 {
			emails := make([]*email, len(tasks))
			exs := make([]*Extraction, len(tasks))
			for i, p := range tasks {
				emails[i], exs[i] = p.e, p.ex
			}
			// A message that already has its task makes no second one.
			if _, err := s.createEmailTasks(ctx, tx, userID, emails, exs); err != nil {
				return err
			}
			marked = append(marked, tasks...)
		}
		for _, p := range plans {
			if !mine[p.e.ID] {
				continue
			}
			switch p.outcome {
			case outcomeReply:
				refID, err := s.threadRef(ctx, tx, p.e)
				if err != nil {
					return err
				}
				if refID == uuid.Nil {
					continue // its task is not there after all: planned again
				}
				if err := attachReply(ctx, tx, refID, p.e); err != nil {
					return err
				}
				if err := suggestStatus(ctx, tx, refID, p.e); err != nil {
					return err
				}
			case outcomeSuggestion:
				var due *string
				if p.ex.DueDate != "" {
					due = &p.ex.DueDate
				}
				var prio *string
				if p.ex.Priority != "" {
					prio = &p.ex.Priority
				}
				// clock_timestamp: the suggestions of one batch list in
				// the order of their messages (now() is the batch's).
				if _, err := tx.Exec(ctx, `INSERT INTO mail_suggestions (user_id, email_id, title, due_date, priority, confidence, extractor, created_at)
					VALUES ($1, $2, $3, $4::date, $5, $6, $7, clock_timestamp()) ON CONFLICT (email_id) DO NOTHING`,
					p.e.UserID, p.e.ID, p.ex.Title, due, prio, p.ex.Confidence, p.extractor); err != nil {
					return err
				}
			case outcomeTask:
				continue // marked above
			}
			marked = append(marked, p)
		}
		return markScanned(ctx, tx, marked)
	})
}

// markScanned marks messages scanned with their outcome and extractor, in
// one statement.
func markScanned(ctx context.Context, tx db.Tx, plans []*scanPlan) error {
	if len(plans) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(plans))
	outcomes := make([]string, len(plans))
	extractors := make([]*string, len(plans))
	for i, p := range plans {
		ids[i], outcomes[i] = p.e.ID, p.outcome
		if p.extractor != "" {
			extractors[i] = &p.extractor
		}
	}
	_, err := tx.Exec(ctx, `UPDATE emails e SET scanned_at = now(), outcome = x.outcome, extractor = x.extractor
		FROM unnest($1::uuid[], $2::text[], $3::text[]) AS x(id, outcome, extractor) WHERE e.id = x.id`, ids, outcomes, extractors)
	return err
}

func (s *Service) mailThreshold() float64 {
	if s.o.MailConfidenceThreshold > 0 {
		return s.o.MailConfidenceThreshold
	}
	return defaultMailMin
}

// replyMatch is what a reply answers: an earlier message of the same user
// and provider, whose email reference has a task, in the same thread or
// named by the reply's In-Reply-To or References. The reply is x (id,
// user_id, provider, received_at, thread_id, and named: a jsonb array of
// message ids); the earlier message o, its reference r.
const replyMatch = `emails o
		JOIN external_refs r ON r.user_id = o.user_id AND r.system = 'email' AND r.external_id = o.message_id
			AND r.metadata->>'provider' = o.provider AND r.task_id IS NOT NULL
	WHERE o.user_id = x.user_id AND o.provider = x.provider AND o.id <> x.id AND o.received_at <= x.received_at
		AND ((o.thread_id <> '' AND o.thread_id = x.thread_id)
			OR (o.header_message_id <> '' AND o.header_message_id IN (SELECT jsonb_array_elements_text(x.named))))`

// named is the message ids e names as the ones it answers, as JSON.
func named(e *email) []byte {
	names := []string{}
	if e.InReplyTo != "" {
		names = append(names, e.InReplyTo)
	}
	names = append(names, e.References...)
	b, _ := json.Marshal(names)
	return b
}

// threadRef is the email reference (with a task) of the earliest message
// e answers (replyMatch); uuid.Nil when none. The reference is locked for
// the update the reply makes.
func (s *Service) threadRef(ctx context.Context, q db.Querier, e *email) (uuid.UUID, error) {
	var id uuid.UUID
	err := q.QueryRow(ctx, `SELECT r.id
		FROM (VALUES ($1::uuid, $2::uuid, $3::text, $4::timestamptz, $5::text, $6::jsonb)) AS x(id, user_id, provider, received_at, thread_id, named),
		`+replyMatch+`
		ORDER BY o.received_at, o.id LIMIT 1 FOR UPDATE OF r`,
		e.ID, e.UserID, e.Provider, e.ReceivedAt, e.ThreadID, named(e)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, nil
	}
	return id, err
}

// threadRefs says which messages of a batch answer an earlier message that
// has its task (replyMatch, in one query for the batch).
func threadRefs(ctx context.Context, q db.Querier, batch []*email) (map[uuid.UUID]bool, error) {
	n := len(batch)
	ids, users, providers := make([]uuid.UUID, n), make([]uuid.UUID, n), make([]string, n)
	received, threads, names := make([]time.Time, n), make([]string, n), make([][]byte, n)
	for i, e := range batch {
		ids[i], users[i], providers[i], received[i], threads[i], names[i] = e.ID, e.UserID, e.Provider, e.ReceivedAt, e.ThreadID, named(e)
	}
	rows, err := q.Query(ctx, `SELECT x.id
		FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::jsonb[]) AS x(id, user_id, provider, received_at, thread_id, named)
		WHERE EXISTS (SELECT FROM `+replyMatch+`)`, ids, users, providers, received, threads, names)
	if err != nil {
		return nil, fmt.Errorf("replies: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("replies: %w", err)
	}
	out := make(map[uuid.UUID]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}

// attachReply adds a message to a reference's replies (once, the latest
// maxReplies kept). The task itself is left as it is: a reply never
// completes it.
func attachReply(ctx context.Context, tx db.Tx, refID uuid.UUID, e *email) error {
	reply, _ := json.Marshal(map[string]any{"message_id": e.MessageID, "from": e.From, "subject": e.Subject,
		"snippet": clip(e.Snippet, 300), "received_at": e.ReceivedAt.UTC(), "url": e.URL})
	_, err := tx.Exec(ctx, `UPDATE external_refs SET last_synced_at = now(), metadata = jsonb_set(metadata, '{replies}', (
			SELECT coalesce(jsonb_agg(x ORDER BY n), '[]'::jsonb) FROM (
				SELECT x, n FROM jsonb_array_elements(coalesce(metadata->'replies', '[]'::jsonb) || jsonb_build_array($2::jsonb))
					WITH ORDINALITY AS a(x, n)
				ORDER BY n DESC LIMIT $3) k))
		WHERE id = $1 AND NOT coalesce(metadata->'replies', '[]'::jsonb) @> jsonb_build_array(jsonb_build_object('message_id', $4::text))`,
		refID, reply, maxReplies, e.MessageID)
	return err
}

// newEmailNote makes part of the user's Email notes ("Email", then
// "Email (2)"... once one is full).
func (s *Service) newEmailNote(ctx context.Context, tx db.Tx, userID uuid.UUID, part int) (uuid.UUID, error) {
	title, ext := "Email", map[string]any{"system": SystemEmail}
	if part > 1 {
		title, ext["part"] = fmt.Sprintf("Email (%d)", part), part
	}
	meta, _ := json.Marshal(map[string]any{"external": ext})
	n, err := s.o.Notes.CreateTx(ctx, tx, userID, &note.CreateParams{Title: title, Metadata: meta})
	if err != nil {
		return uuid.Nil, fmt.Errorf("create the Email note: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO external_lists (user_id, system, list_id, part, note_id, name) VALUES ($1, 'email', '', $2, $3, 'Email')
		ON CONFLICT (user_id, system, list_id, part) DO UPDATE SET note_id = $3`, userID, part, n.ID); err != nil {
		return uuid.Nil, err
	}
	return n.ID, nil
}

// createEmailTask makes the task of a message in the Email note, with its
// reference. A message that already has a reference makes no second task
// (Conflict).
func (s *Service) createEmailTask(ctx context.Context, tx db.Tx, e *email, ex *Extraction) (*task.Task, error) {
	ids, err := s.createEmailTasks(ctx, tx, e.UserID, []*email{e}, []*Extraction{ex})
	if err != nil {
		return nil, err
	}
	if ids[0] == uuid.Nil {
		return nil, apperr.New(apperr.Conflict, "message %s already has its task", e.MessageID)
	}
	return task.Get(ctx, tx, e.UserID, ids[0])
}

// createEmailTasks makes the tasks of the user's messages (each from its
// extraction) at the end of the Email note, all with one write of the note
// (one version; continuation notes once it is full), through fillList as
// the sync places a list's tasks, and their references (system email: the
// message id, thread id and link) with one statement. A message that
// already has a reference, or comes twice, makes no second task: its id
// is uuid.Nil.
func (s *Service) createEmailTasks(ctx context.Context, tx db.Tx, userID uuid.UUID, es []*email, exs []*Extraction) ([]uuid.UUID, error) {
	msgIDs := make([]string, len(es))
	for i, e := range es {
		msgIDs[i] = e.MessageID
	}
	rows, err := tx.Query(ctx, `SELECT external_id FROM external_refs WHERE user_id = $1 AND system = 'email' AND external_id = ANY($2)`,
		userID, msgIDs)
	if err != nil {
		return nil, err
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	taken := make(map[string]bool, len(es))
	for _, id := range have {
		taken[id] = true
	}
	type placing struct {
		i       int
		f       blocknote.TaskFields
		blockID string
		noteID  uuid.UUID
	}
	var all []*placing
	for i, e := range es {
		if taken[e.MessageID] {
			continue
		}
		taken[e.MessageID] = true
		ex := exs[i]
		desc := "From " + e.From
		if e.Subject != "" {
			desc += ": " + e.Subject
		}
		f := blocknote.TaskFields{Title: strings.TrimSpace(clip(ex.Title, 500)), Description: clip(desc, 2000), Status: blocknote.StatusNotStarted,
			Priority: blocknote.Priority(ex.Priority), DueDate: ex.DueDate, Source: SystemEmail,
			SourceReference: clip(e.MessageID, blocknote.MaxReferenceLength)}
		if f.Title == "" {
			f.Title = "Reply to email"
		}
		if err := f.Validate(""); err != nil {
			return nil, fmt.Errorf("the task of message %s: %w", e.MessageID, err)
		}
		all = append(all, &placing{i: i, f: f})
	}
	out := make([]uuid.UUID, len(es))
	if len(all) == 0 {
		return out, nil
	}
	todo := all
	newNote := func(part int) (uuid.UUID, error) { return s.newEmailNote(ctx, tx, userID, part) }
	err = s.fillList(ctx, tx, userID, SystemEmail, "", newNote, func(noteID uuid.UUID, doc *blocknote.Document) (int, error) {
		n := 0
		for len(todo) > 0 && doc.Len()+1 <= blocknote.MaxBlocks {
			b, err := doc.AppendTask("", todo[0].f)
			if err != nil {
				return n, err
			}
			todo[0].blockID, todo[0].noteID = b.ID(), noteID
			todo = todo[1:]
			n++
		}
		return n, nil
	}, func() bool { return len(todo) == 0 })
	if err != nil {
		return nil, err
	}
	byNote := map[uuid.UUID][]string{}
	for _, p := range all {
		byNote[p.noteID] = append(byNote[p.noteID], p.blockID)
	}
	taskOf, err := taskIDsOfBlocks(ctx, tx, userID, byNote)
	if err != nil {
		return nil, err
	}
	var refExt, refURL []string
	var refTask []uuid.UUID
	var refMeta [][]byte
	for _, p := range all {
		id, ok := taskOf[p.blockID]
		if !ok {
			return nil, fmt.Errorf("the task block of message %s is not in the index", es[p.i].MessageID)
		}
		out[p.i] = id
		e := es[p.i]
		meta, _ := json.Marshal(map[string]any{"provider": e.Provider, "message_id": e.MessageID, "thread_id": e.ThreadID,
			"header_message_id": e.HeaderID, "replies": []any{}})
		refExt, refURL, refTask, refMeta = append(refExt, e.MessageID), append(refURL, e.URL), append(refTask, id), append(refMeta, meta)
	}
	// clock_timestamp per row: the references list in the order of their
	// messages, as when each had a transaction of its own.
	if _, err := tx.Exec(ctx, `INSERT INTO external_refs (user_id, system, external_id, task_id, url, metadata, state, created_at)
		SELECT $1, 'email', x.external_id, x.task_id, x.url, x.metadata, 'active', clock_timestamp()
		FROM unnest($2::text[], $3::uuid[], $4::text[], $5::jsonb[]) WITH ORDINALITY AS x(external_id, task_id, url, metadata, n)
		ORDER BY x.n`,
		userID, refExt, refTask, refURL, refMeta); err != nil {
		return nil, err
	}
	return out, nil
}

// ---- suggestions ----------------------------------------------------------

// Suggestion is a request the scan found that waits for the user.
type Suggestion struct {
	ID         uuid.UUID
	MessageID  string
	ThreadID   string
	Title      string
	DueDate    *time.Time
	Priority   *string
	Confidence float64
	Extractor  string
	Status     string
	TaskID     *uuid.UUID
	CreatedAt  time.Time
}

// ListSuggestions pages through the user's mail suggestions, oldest first;
// status, when not empty, keeps those in that state.
func (s *Service) ListSuggestions(ctx context.Context, userID uuid.UUID, status string, limit int, cursor string) (*page.Page[*Suggestion], error) {
	l, err := page.NewList(limit, cursor, func(x *Suggestion) page.CreatedKey { return page.CreatedKey{At: x.CreatedAt, ID: x.ID} })
	if err != nil {
		return nil, err
	}
	l.Where("s.user_id = @user_id", pgx.NamedArgs{"user_id": userID})
	if status != "" {
		l.Where("s.status = @status", pgx.NamedArgs{"status": status})
	}
	l.OrderBy(page.Asc, "s.created_at", "s.id")
	return l.Fetch(ctx, s.o.DB.Pool, `SELECT s.id, s.created_at, e.message_id, e.thread_id, s.title, s.due_date, s.priority, s.confidence,
		s.extractor, s.status, s.task_id FROM mail_suggestions s JOIN emails e ON e.id = s.email_id`, func(row pgx.Row) (*Suggestion, error) {
		var x Suggestion
		return &x, row.Scan(&x.ID, &x.CreatedAt, &x.MessageID, &x.ThreadID, &x.Title, &x.DueDate, &x.Priority, &x.Confidence,
			&x.Extractor, &x.Status, &x.TaskID)
	})
}

// AcceptSuggestion makes the suggestion's task (in the Email note, with
// its reference); a suggestion already accepted or dismissed is Conflict,
// another user's NotFound.
func (s *Service) AcceptSuggestion(ctx context.Context, userID, id uuid.UUID) (*task.Task, error) {
	var out *task.Task
	err := s.o.DB.InTx(ctx, func(tx db.Tx) error {
		var status, title string
		var prio *string
		var due *time.Time
		var conf float64
		var emailID uuid.UUID
		err := tx.QueryRow(ctx, `SELECT status, title, priority, due_date, confidence, email_id FROM mail_suggestions
			WHERE id = $1 AND user_id = $2 FOR UPDATE`, id, userID).Scan(&status, &title, &prio, &due, &conf, &emailID)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.New(apperr.NotFound, "no such suggestion")
		}
		if err != nil {
			return err
		}
		if status != SuggestionPending {
			return apperr.New(apperr.Conflict, "the suggestion was already %s", status)
		}
		e, err := scanEmail(tx.QueryRow(ctx, `SELECT `+emailColumns+` FROM emails WHERE id = $1 AND user_id = $2`, emailID, userID))
		if err != nil {
			return err
		}
		ex := &Extraction{IsRequest: true, Title: title, Confidence: conf}
		if prio != nil {
			ex.Priority = *prio
		}
		if due != nil {
			ex.DueDate = due.Format(time.DateOnly)
		}
		t, err := s.createEmailTask(ctx, tx, e, ex)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE mail_suggestions SET status = 'accepted', task_id = $2, updated_at = now() WHERE id = $1`, id, t.ID); err != nil {
			return err
		}
		out = t
		return nil
	})
	return out, err
}

// DismissSuggestion dismisses a pending suggestion (again: nothing);
// an accepted one is Conflict, another user's NotFound.
func (s *Service) DismissSuggestion(ctx context.Context, userID, id uuid.UUID) error {
	return s.o.DB.InTx(ctx, func(tx db.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM mail_suggestions WHERE id = $1 AND user_id = $2 FOR UPDATE`, id, userID).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.New(apperr.NotFound, "no such suggestion")
		}
		if err != nil {
			return err
		}
		switch status {
		case SuggestionDismissed:
			return nil
		case SuggestionAccepted:
			return apperr.New(apperr.Conflict, "the suggestion was already accepted")
		}
		_, err = tx.Exec(ctx, `UPDATE mail_suggestions SET status = 'dismissed', updated_at = now() WHERE id = $1`, id)
		return err
	})
}
