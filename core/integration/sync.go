package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"golang.org/x/oauth2"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/page"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/sdk"
)

// SyncArgs is the integration.sync job: one connection's sync.
type SyncArgs struct {
	ConnectionID uuid.UUID `json:"connection_id"`
	// Full starts from no cursor (a reconcile).
	Full bool `json:"full,omitempty"`
	// Request makes a manual sync a job of its own (not deduplicated
	// against the scheduled one of the period).
	Request string `json:"request,omitempty"`
}

func (SyncArgs) Kind() string { return "integration.sync" }

// InsertOpts: bounded retries with River's exponential backoff.
func (SyncArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 8} }

func (s *Service) insertOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: s.o.Queue, MaxAttempts: 8}
}

// ScheduleArgs is the periodic integration.schedule job.
type ScheduleArgs struct{}

func (ScheduleArgs) Kind() string { return "integration.schedule" }

// ScheduleInterval is how often due connections are looked for.
const ScheduleInterval = time.Minute

// ScheduleDue inserts the sync job of every connected connection whose
// next_sync_at has come, unique per connection and sync_interval period.
func (s *Service) ScheduleDue(ctx context.Context) (int, error) {
	n := 0
	err := s.o.DB.InTx(ctx, func(tx db.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, provider FROM connections WHERE state = 'connected' AND (next_sync_at IS NULL OR next_sync_at <= now()) LIMIT 10000`)
		if err != nil {
			return err
		}
		due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (connProvider, error) {
			var c connProvider
			return c, r.Scan(&c.id, &c.provider)
		})
		if err != nil {
			return err
		}
		for _, c := range due {
			if !s.syncs(c.provider) {
				continue
			}
			id := c.id
			if _, err := tx.InsertJob(ctx, SyncArgs{ConnectionID: id}, &river.InsertOpts{Queue: s.o.Queue,
				MaxAttempts: 8, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: s.o.SyncInterval}}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

type connProvider struct {
	id       uuid.UUID
	provider string
}

// syncs reports whether provider brings data in (its plugin implements
// Sync). A provider that only offers tools or links (Composio) is never
// scheduled; while its manifest is unknown (the plugin is starting) it is
// assumed to sync, and RunSync decides.
func (s *Service) syncs(provider string) bool {
	m := s.manifestOf(provider)
	return m == nil || m.Implements("Sync")
}

// SyncNow enqueues a sync of the user's connection to provider; 404 when
// not connected.
func (s *Service) SyncNow(ctx context.Context, userID uuid.UUID, provider string, full bool) ([]int64, error) {
	if _, err := s.providerKnown(provider); err != nil {
		return nil, err
	}
	var ids []int64
	err := s.o.DB.InTx(ctx, func(tx db.Tx) error {
		c, err := s.conn(ctx, tx, userID, provider)
		if err != nil {
			return err
		}
		if c.State != StateConnected {
			return apperr.New(apperr.NotFound, "not connected to %s (state %s)", provider, c.State)
		}
		res, err := tx.InsertJob(ctx, SyncArgs{ConnectionID: c.ID, Full: full, Request: uuid.NewString()}, s.insertOpts())
		if err != nil {
			return err
		}
		ids = append(ids, res.Job.ID)
		return nil
	})
	return ids, err
}

// SyncAll enqueues a sync of each of the user's connections that sync
// tasks; 404 when none is connected.
func (s *Service) SyncAll(ctx context.Context, userID uuid.UUID) ([]int64, error) {
	ids := []int64{}
	err := s.o.DB.InTx(ctx, func(tx db.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, provider FROM connections WHERE user_id = $1 AND state = 'connected' ORDER BY provider`, userID)
		if err != nil {
			return err
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (connProvider, error) {
			var c connProvider
			return c, r.Scan(&c.id, &c.provider)
		})
		if err != nil {
			return err
		}
		for _, c := range list {
			if _, err := s.providerKnown(c.provider); err != nil || !s.syncs(c.provider) {
				continue
			}
			res, err := tx.InsertJob(ctx, SyncArgs{ConnectionID: c.id, Request: uuid.NewString()}, s.insertOpts())
			if err != nil {
				return err
			}
			ids = append(ids, res.Job.ID)
		}
		if len(ids) == 0 {
			return apperr.New(apperr.NotFound, "no outside system is connected")
		}
		return nil
	})
	return ids, err
}

// Disconnect forgets the user's credentials for provider. Sync jobs still
// queued find the connection disconnected and do nothing. With keepTasks
// false the tasks imported from provider are deleted (through the task
// service, out of their notes) with their references.
func (s *Service) Disconnect(ctx context.Context, userID uuid.UUID, provider string, keepTasks bool) error {
	if _, err := s.providerKnown(provider); err != nil {
		return err
	}
	return s.o.DB.InTx(ctx, func(tx db.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE connections SET state = 'disconnected', credentials = NULL, key_id = NULL,
			next_sync_at = NULL, updated_at = now() WHERE user_id = $1 AND provider = $2 AND state <> 'disconnected'`, userID, provider)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return apperr.New(apperr.NotFound, "not connected to %s", provider)
		}
		if keepTasks {
			return nil
		}
		rows, err := tx.Query(ctx, `SELECT DISTINCT task_id FROM external_refs WHERE user_id = $1 AND system = $2 AND task_id IS NOT NULL`, userID, provider)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := s.o.Tasks.DeleteTx(ctx, tx, userID, id, nil); err != nil && !apperr.Is(err, apperr.NotFound) {
				return err
			}
		}
		_, err = tx.Exec(ctx, `DELETE FROM external_refs WHERE user_id = $1 AND system = $2`, userID, provider)
		return err
	})
}

// freshToken gives the plugin a fresh access token: a refresh happens here
// (refresh tokens never reach plugins), under the connection's row lock (two
// syncs never spend one refresh token twice), and the refreshed token is
// sealed and committed at once, before the plugin is called. A refresh
// refused with invalid_grant is errNeedsReauth.
func (s *Service) freshToken(ctx context.Context, c *connection, cfg *oauth2.Config) (*credentials, error) {
	var out *credentials
	err := s.o.DB.InTx(ctx, func(tx db.Tx) error {
		var sealed []byte
		var keyID *uuid.UUID
		if err := tx.QueryRow(ctx, `SELECT credentials, key_id FROM connections WHERE id = $1 FOR UPDATE`, c.ID).Scan(&sealed, &keyID); err != nil {
			return err
		}
		if sealed == nil || keyID == nil {
			return errNeedsReauth{"no stored credentials"}
		}
		raw, err := s.keys.Open(ctx, *keyID, sealed, credAD(c.UserID, c.Provider))
		if err != nil {
			return err
		}
		var cred credentials
		if err := json.Unmarshal(raw, &cred); err != nil {
			return err
		}
		hctx := context.WithValue(ctx, oauth2.HTTPClient, s.o.HTTPClient)
		tok, err := cfg.TokenSource(hctx, &oauth2.Token{AccessToken: cred.AccessToken, TokenType: cred.TokenType,
			RefreshToken: cred.RefreshToken, Expiry: cred.Expiry}).Token()
		if err != nil {
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
				return errNeedsReauth{"the provider refused the refresh token (invalid_grant): connect again"}
			}
			return err
		}
		out = &cred
		if tok.AccessToken == cred.AccessToken {
			return nil
		}
		next := tokenCredentials(tok)
		if next.RefreshToken == "" {
			next.RefreshToken = cred.RefreshToken
		}
		raw, _ = json.Marshal(next)
		newKey, resealed, err := s.keys.Seal(ctx, raw, credAD(c.UserID, c.Provider))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE connections SET credentials = $1, key_id = $2, updated_at = now() WHERE id = $3`,
			resealed, newKey, c.ID); err != nil {
			return err
		}
		out = next
		return nil
	})
	return out, err
}

// errNeedsReauth marks a sync that found the credentials refused.
type errNeedsReauth struct{ msg string }

func (e errNeedsReauth) Error() string { return e.msg }

// connectionFor opens a connection's credentials into what the plugin is
// called with (decrypted only in memory).
func (s *Service) connectionFor(ctx context.Context, c *connection, p *providerInfo) (sdk.Connection, error) {
	if c.Sealed == nil || c.KeyID == nil {
		return sdk.Connection{}, errNeedsReauth{"no stored credentials"}
	}
	raw, err := s.keys.Open(ctx, *c.KeyID, c.Sealed, credAD(c.UserID, c.Provider))
	if err != nil {
		return sdk.Connection{}, err
	}
	var cred credentials
	if err := json.Unmarshal(raw, &cred); err != nil {
		return sdk.Connection{}, err
	}
	if cred.AccessToken != "" && p.manifest.Auth.Type == sdk.AuthOAuth2 {
		cfg, err := s.oauthConfig(p)
		if err != nil {
			return sdk.Connection{}, err
		}
		fresh, err := s.freshToken(ctx, c, cfg)
		if err != nil {
			return sdk.Connection{}, err
		}
		fresh.RefreshToken = "" // never sent to the plugin
		return sdkConnection(c.ID, fresh), nil
	}
	return sdkConnection(c.ID, &cred), nil
}

var errDisconnected = errors.New("the connection was disconnected during the sync")

// cursorMoved: a concurrent sync of the connection stored pages while this
// one fetched its page; cursor is where it left the connection's cursor.
type cursorMoved struct{ cursor string }

func (e cursorMoved) Error() string { return "the sync cursor moved to " + e.cursor }

// maxPages bounds one job's pages; the job continues in the next one.
const maxPages = 1000

// RunSync works an integration.sync job: pages of Sync, each page's
// records, references and cursor stored in one transaction (the cursor is
// never ahead of what is stored), the last one with the job's completion.
func (s *Service) RunSync(ctx context.Context, job *river.Job[SyncArgs]) error {
	c, err := scanConn(s.o.DB.Pool.QueryRow(ctx, `SELECT `+connColumns+` FROM connections WHERE id = $1`, job.Args.ConnectionID))
	if errors.Is(err, pgx.ErrNoRows) {
		return river.JobCancel(fmt.Errorf("connection %s is gone", job.Args.ConnectionID))
	}
	if err != nil {
		return err
	}
	if c.State != StateConnected {
		return nil // disconnected or needs re-auth: nothing to do
	}
	p, err := s.provider(c.Provider)
	if apperr.Is(err, apperr.NotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if !p.manifest.Implements("Sync") {
		// Nothing to bring in (tools only): off the schedule.
		_, err := s.o.DB.Pool.Exec(ctx, `UPDATE connections SET next_sync_at = NULL WHERE id = $1`, c.ID)
		return err
	}
	ic, err := s.o.Plugins.Integration(c.Provider)
	if err != nil {
		return river.JobCancel(err)
	}
	conn, err := s.connectionFor(ctx, c, p)
	if err != nil {
		return s.syncFailed(ctx, c, err)
	}
	cursor := c.Cursor
	if job.Args.Full {
		cursor = ""
	}
	// based is the stored cursor this job's next page follows on from: a
	// page is stored only while the connection's cursor is still there. A
	// concurrent sync of the connection (the scheduled one and a manual one)
	// that stored pages meanwhile has moved it: this page was fetched from
	// a position already passed, and storing it would move the cursor back
	// (and restart a full sync); it is dropped and the job goes on from the
	// stored cursor (a full sync keeps starting from no cursor until its
	// first page is stored).
	based := c.Cursor
	stored := false
	for range maxPages {
		resp, err := ic.Sync(ctx, &sdk.SyncRequest{Connection: conn, Cursor: cursor})
		if err != nil {
			return s.syncFailed(ctx, c, err)
		}
		if resp.NextCursor == "" {
			return s.syncFailed(ctx, c, sdk.Permanent("the plugin answered an empty cursor"))
		}
		last := !resp.HasMore
		err = s.o.DB.InTx(ctx, func(tx db.Tx) error {
			// Pages of concurrent syncs of one connection (a scheduled and
			// a manual one) are stored one after the other: a record is
			// never imported twice.
			var state, now string
			var gen int64
			var open bool
			if err := tx.QueryRow(ctx, `SELECT state, full_sync_gen, full_sync_open, coalesce(sync_cursor, '') FROM connections WHERE id = $1 FOR UPDATE`,
				c.ID).Scan(&state, &gen, &open, &now); err != nil {
				return err
			}
			if state != StateConnected {
				return errDisconnected
			}
			if now != based {
				return cursorMoved{now}
			}
			// A sync from no cursor, or a page that says Reset, starts a
			// full sync: its last page tells what is gone outside.
			if cursor == "" || resp.Reset {
				gen, open = gen+1, true
				if _, err := tx.Exec(ctx, `UPDATE connections SET full_sync_gen = $1, full_sync_open = true WHERE id = $2`, gen, c.ID); err != nil {
					return err
				}
			}
			counts, err := s.store(ctx, tx, c, resp, gen)
			if err != nil {
				return err
			}
			if last && open {
				n, err := s.reconcile(ctx, tx, c, gen)
				if err != nil {
					return err
				}
				counts["deletes"] += n
			}
			next := time.Now().Add(s.o.SyncInterval)
			if _, err := tx.Exec(ctx, `UPDATE connections SET sync_cursor = $1, last_error = NULL, updated_at = now(),
				counts = (SELECT jsonb_object_agg(k, coalesce((counts->>k)::bigint, 0) + coalesce(($2::jsonb->>k)::bigint, 0))
					FROM jsonb_object_keys(counts || $2::jsonb) AS k),
				last_sync_at = CASE WHEN $3 THEN now() ELSE last_sync_at END,
				next_sync_at = CASE WHEN $3 THEN $4 ELSE next_sync_at END
				WHERE id = $5 AND state = 'connected'`, resp.NextCursor, counts, last, next, c.ID); err != nil {
				return err
			}
			if last {
				_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx.Tx, job)
				return err
			}
			return nil
		})
		if errors.Is(err, errDisconnected) {
			return nil // disconnected meanwhile: nothing stored
		}
		var moved cursorMoved
		if errors.As(err, &moved) {
			// Another sync stored pages meanwhile: this page is not stored,
			// the job goes on from where that sync left the cursor.
			based = moved.cursor
			if !job.Args.Full || stored {
				cursor = moved.cursor
			}
			continue
		}
		if err != nil {
			return err
		}
		if last {
			return nil
		}
		cursor, based, stored = resp.NextCursor, resp.NextCursor, true
	}
	return nil // more pages: the next scheduled job continues from the stored cursor
}

// syncFailed records a failed sync: refused credentials set needs_reauth
// and stop the schedule (the job is cancelled); a rate limit snoozes;
// anything else is kept as last_error and retried with backoff.
func (s *Service) syncFailed(ctx context.Context, c *connection, err error) error {
	var e *sdk.Error
	var nr errNeedsReauth
	msg := err.Error()
	switch {
	case errors.As(err, &nr) || (errors.As(err, &e) && e.Code == sdk.CodeNeedsReauth):
		_, _ = s.o.DB.Pool.Exec(ctx, `UPDATE connections SET state = 'needs_reauth', next_sync_at = NULL, last_error = $1, updated_at = now() WHERE id = $2`, msg, c.ID)
		return river.JobCancel(err)
	case errors.As(err, &e) && e.Code == sdk.CodeRateLimited && e.RetryAfter > 0:
		_, _ = s.o.DB.Pool.Exec(ctx, `UPDATE connections SET last_error = $1, updated_at = now() WHERE id = $2`, msg, c.ID)
		return river.JobSnooze(e.RetryAfter)
	case errors.As(err, &e) && (e.Code == sdk.CodePermanent || e.Code == sdk.CodeInvalidConfig):
		_, _ = s.o.DB.Pool.Exec(ctx, `UPDATE connections SET state = 'error', last_error = $1, updated_at = now() WHERE id = $2`, msg, c.ID)
		return river.JobCancel(err)
	}
	_, _ = s.o.DB.Pool.Exec(ctx, `UPDATE connections SET last_error = $1, updated_at = now() WHERE id = $2`, msg, c.ID)
	return err
}

// SyncLag is, per provider, how long ago the connected connection that is
// most behind last synced (or connected, when it never has): what
// consilium_sync_lag_seconds reports. Connections that need re-auth or
// failed are not syncing and are left out (their state says so).
func (s *Service) SyncLag(ctx context.Context) (map[string]time.Duration, error) {
	rows, err := s.o.DB.Pool.Query(ctx, `SELECT provider, extract(epoch FROM now() - min(coalesce(last_sync_at, created_at)))::float8
		FROM connections WHERE state = 'connected' GROUP BY provider`)
	if err != nil {
		return nil, fmt.Errorf("read sync lag: %w", err)
	}
	out := map[string]time.Duration{}
	for rows.Next() {
		var provider string
		var secs float64
		if err := rows.Scan(&provider, &secs); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read sync lag: %w", err)
		}
		out[provider] = time.Duration(max(secs, 0) * float64(time.Second))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read sync lag: %w", err)
	}
	return out, nil
}

// ExternalTask is a task from an outside system with its reference.
type ExternalTask struct {
	Task         *task.Task
	System       string
	ExternalID   string
	URL          string
	LastSyncedAt time.Time
	SyncStatus   string
	Conflicts    json.RawMessage
	RefCreatedAt time.Time
	RefID        uuid.UUID
	// Email references: the replies attached (count and the latest) and
	// the status the latest reply with a signal suggests (nil: none).
	ReplyCount      int
	LatestReply     *Reply
	SuggestedStatus *StatusSuggestion
}

// ListExternal pages through the user's tasks that came from outside, oldest
// reference first.
func (s *Service) ListExternal(ctx context.Context, userID uuid.UUID, limit int, cursor string) (*page.Page[*ExternalTask], error) {
	l, err := page.NewList(limit, cursor, func(e *ExternalTask) page.CreatedKey { return page.CreatedKey{At: e.RefCreatedAt, ID: e.RefID} })
	if err != nil {
		return nil, err
	}
	l.Where("r.user_id = @user_id AND r.task_id IS NOT NULL", pgx.NamedArgs{"user_id": userID})
	l.OrderBy(page.Asc, "r.created_at", "r.id")
	return l.Fetch(ctx, s.o.DB.Pool, `SELECT r.id, r.created_at, r.system, r.external_id, r.url, r.last_synced_at, r.sync_status, r.conflicts, r.task_id,
		CASE WHEN r.system = 'email' THEN jsonb_build_object('replies', r.metadata->'replies', 'suggested_status', r.metadata->'suggested_status') END
		FROM external_refs r`, func(row pgx.Row) (*ExternalTask, error) {
		var e ExternalTask
		var taskID uuid.UUID
		var mail []byte
		if err := row.Scan(&e.RefID, &e.RefCreatedAt, &e.System, &e.ExternalID, &e.URL, &e.LastSyncedAt, &e.SyncStatus, &e.Conflicts, &taskID,
			&mail); err != nil {
			return nil, err
		}
		e.ReplyCount, e.LatestReply, e.SuggestedStatus = replyInfo(mail)
		e.Task = &task.Task{ID: taskID}
		return &e, nil
	})
}

// FillTasks reads the tasks of a page of references (after ListExternal).
func (s *Service) FillTasks(ctx context.Context, userID uuid.UUID, list []*ExternalTask) error {
	for _, e := range list {
		t, err := s.o.Tasks.Get(ctx, userID, e.Task.ID)
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return err
		}
		if t != nil {
			e.Task = t
		}
	}
	return nil
}
