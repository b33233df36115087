package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
)

// Runner answers one turn: it reads the turn, writes events and messages
// through it, and returns nil when the answer is complete. The orchestrator
// (agents, tools, delegation, approvals, budgets) is one.
//
// It must honour ctx: ctx ends when the user cancels the run (from any
// process) or the worker stops. A Runner may be called again for the same
// run when its worker died mid-turn (Turn.Attempt > 1), so what it writes
// besides events must be idempotent.
type Runner interface {
	RunTurn(ctx context.Context, t *Turn) error
}

// RunError ends a run with an error code and a message meant for the
// user, as failed or budget_exceeded.
type RunError struct {
	Status  string // RunBudgetExceeded, else the run failed
	Code    string
	Message string
	Err     error
	// budget names the budget spent (orchestrator).
	budget string
}

// ErrCancelled is the cause of a run's context when the user cancelled
// the run (context.Cause), as opposed to its worker stopping.
var ErrCancelled = errors.New("the user cancelled the run")

func (e *RunError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("run %s (%s): %s: %v", e.Status, e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("run %s (%s): %s", e.Status, e.Code, e.Message)
}

func (e *RunError) Unwrap() error { return e.Err }

// Turn is one run as its Runner sees it.
type Turn struct {
	Run          *Run
	Conversation *Conversation
	// Message is the user's message the run answers.
	Message *Message
	Agent   Agent
	// Attempt counts the times the run was started (1 the first time).
	Attempt int
	// State is what the Runner saved when the run stopped to wait for an
	// approval (nil before): it resumes from there.
	State json.RawMessage
	svc   *Service
}

// ErrWaitingApproval is returned by a Runner that stopped at a call
// needing the user's approval, after storing the approval, the run's state
// and its status (Turn.WaitForApproval): the job ends, holding no worker,
// and the answer queues the run again.
var ErrWaitingApproval = errors.New("the run waits for the user's approval")

// Emit appends events of the run to the conversation, in one transaction
// and one NOTIFY: batch what a model streams (message.delta) rather than
// emitting per token.
func (t *Turn) Emit(ctx context.Context, events ...Event) error {
	for i := range events {
		events[i].RunID = &t.Run.ID
	}
	return t.svc.db.InTx(ctx, func(tx db.Tx) error {
		_, err := AppendEvents(ctx, tx, t.Run.UserID, t.Run.ConversationID, events...)
		return err
	})
}

// AddMessage stores a message of the run and its message.completed event
// in one transaction.
func (t *Turn) AddMessage(ctx context.Context, m *NewMessage) (*Message, error) {
	var out *Message
	err := t.svc.db.InTx(ctx, func(tx db.Tx) error {
		var err error
		out, err = t.svc.insertMessage(ctx, tx, t.Run, m)
		return err
	})
	return out, err
}

// AnswerID is the id of the run's answer, the same on every attempt: an
// attempt after one that stored the answer but could not end the run (the
// database went away in between) stores no second answer (the answer is
// written with NewMessage.once).
func (t *Turn) AnswerID() uuid.UUID { return uuid.NewSHA1(t.Run.ID, []byte("answer")) }

// CancelRequested reads whether the user asked the run to stop; a Runner
// checks it between steps (ctx also ends when the request is heard).
func (t *Turn) CancelRequested(ctx context.Context) (bool, error) {
	r, err := t.svc.GetRun(ctx, t.Run.UserID, t.Run.ConversationID, t.Run.ID)
	if err != nil {
		return false, err
	}
	return r.CancelRequested || r.Status == RunCancelled, nil
}

// ErrEarlierRun says the conversation has an earlier run still queued or
// running: turns of one conversation run one after the other, so the job
// waits (the worker snoozes it).
var ErrEarlierRun = errors.New("an earlier run of the conversation has not ended")

// TurnJob is what the worker says about the job running a turn.
type TurnJob struct {
	// Final is set on the job's last attempt: a turn cut off by the
	// worker stopping is then failed instead of left for a retry.
	Final bool
}

// RunTurn works one run: it marks it running, hands it to runner, and
// ends it completed, cancelled, failed or budget_exceeded with its events.
// It returns an error only when the job should be retried (the worker
// stopped mid-turn, the database failed).
func (s *Service) RunTurn(ctx context.Context, args RunTurnArgs, runner Runner, job TurnJob) error {
	// Listen for run.cancel before the run can be seen running, so that
	// a request made right after cannot be missed.
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if s.hub != nil {
		stop := s.hub.watchCancel(args.RunID, args.UserID, func() { cancel(ErrCancelled) })
		defer stop()
	}
	turn, err := s.startRun(ctx, args)
	if errors.Is(err, ErrEarlierRun) {
		turn, err = s.waitForEarlierRuns(ctx, args)
	}
	if err != nil || turn == nil {
		return err
	}
	if turn.Run.CancelRequested {
		return s.endRun(ctx, turn.Run, RunCancelled, nil)
	}
	err = runner.RunTurn(runCtx, turn)
	switch {
	case err == nil:
		return s.endRun(ctx, turn.Run, RunCompleted, nil)
	case errors.Is(err, errNotFound):
		return nil // the conversation was deleted mid-turn
	case errors.Is(err, ErrWaitingApproval):
		return nil // stored with the approval; its answer queues the run again
	}
	if requested, cerr := turn.CancelRequested(context.WithoutCancel(ctx)); cerr == nil && requested {
		return s.endRun(ctx, turn.Run, RunCancelled, nil)
	}
	if ctx.Err() != nil && !job.Final {
		// The worker is stopping: another attempt will take the run up.
		return fmt.Errorf("run %s interrupted: %w", args.RunID, err)
	}
	return s.endRun(ctx, turn.Run, "", err)
}

// earlierRunWait is how long a turn waits in its worker for the runs
// before it to end, before its job is snoozed (which frees the worker but
// takes River's scheduler, some seconds, to bring it back).
const earlierRunWait = 30 * time.Second

// waitForEarlierRuns waits, woken by the conversation's events, for the
// runs before this one to end, and then starts it.
func (s *Service) waitForEarlierRuns(ctx context.Context, args RunTurnArgs) (*Turn, error) {
	if s.hub == nil {
		return nil, ErrEarlierRun
	}
	sub, err := s.hub.Subscribe(ctx, args.UserID, args.ConversationID, nil)
	if err != nil {
		return nil, nil // the conversation is gone: nothing to do
	}
	defer sub.Close()
	wctx, cancel := context.WithTimeout(ctx, earlierRunWait)
	defer cancel()
	for {
		// Subscribed before this check: a run that ends after it wakes Next.
		turn, err := s.startRun(ctx, args)
		if !errors.Is(err, ErrEarlierRun) {
			return turn, err
		}
		if _, err := sub.Next(wctx); err != nil {
			if apperr.Is(err, apperr.NotFound) {
				return nil, nil
			}
			return nil, ErrEarlierRun
		}
	}
}

// startRun marks the run running and reads what its turn needs; nil when
// there is nothing to do (the run ended, was cancelled while queued, or
// its conversation is gone).
func (s *Service) startRun(ctx context.Context, args RunTurnArgs) (*Turn, error) {
	var turn *Turn
	err := s.db.InTx(ctx, func(tx db.Tx) error {
		conv, err := lockConversation(ctx, tx, args.UserID, args.ConversationID, "")
		if errors.Is(err, errNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var earlier bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM chat_runs r JOIN chat_runs me ON me.id = $2 AND me.user_id = $3
			WHERE r.user_id = $3 AND r.conversation_id = $1 AND r.status IN ('queued', 'running') AND r.id <> me.id
			  AND (r.created_at, r.id) < (me.created_at, me.id))`, args.ConversationID, args.RunID, args.UserID).Scan(&earlier); err != nil {
			return fmt.Errorf("start run: %w", err)
		}
		if earlier {
			return ErrEarlierRun
		}
		r, err := scanRun(tx.QueryRow(ctx, `UPDATE chat_runs SET status = 'running', attempts = attempts + 1,
				started_at = coalesce(started_at, now()), updated_at = now()
			WHERE user_id = $1 AND id = $2 AND status IN ('queued', 'running') RETURNING `+runColumns, args.UserID, args.RunID))
		if apperr.Is(err, apperr.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		msg, err := scanMessage(tx.QueryRow(ctx, `SELECT `+messageColumns+` FROM chat_messages WHERE user_id = $1 AND id = $2`, args.UserID, r.MessageID))
		if err != nil {
			return err
		}
		if _, err := AppendEvents(ctx, tx, r.UserID, r.ConversationID, NewEvent(&r.ID, EventRunStarted, struct {
			AgentID string `json:"agent_id"`
			Attempt int    `json:"attempt"`
		}{r.AgentID, r.Attempts})); err != nil {
			return err
		}
		var state []byte
		if err := tx.QueryRow(ctx, `SELECT state FROM chat_runs WHERE id = $1`, r.ID).Scan(&state); err != nil {
			return fmt.Errorf("start run: read state: %w", err)
		}
		turn = &Turn{Run: r, Conversation: conv, Message: msg, Attempt: r.Attempts, State: state, svc: s}
		return nil
	})
	if err != nil || turn == nil {
		return nil, err
	}
	agent, ok := Agent{}, false
	if s.agents != nil {
		agent, ok = s.agents.Agent(turn.Run.AgentID)
	}
	if !ok {
		return nil, s.endRun(ctx, turn.Run, "", &RunError{Code: "agent_unavailable",
			Message: fmt.Sprintf("the agent %q is no longer configured", turn.Run.AgentID)})
	}
	turn.Agent = agent
	return turn, nil
}

// endRun ends the run: with status, or, when status is empty, by what err
// says (a RunError's status and message; anything else failed, its cause
// logged and not shown).
func (s *Service) endRun(ctx context.Context, r *Run, status string, err error) error {
	code, message := "", ""
	if status == "" {
		status = RunFailed
		var re *RunError
		var ae *apperr.Error
		switch {
		case errors.As(err, &re):
			if re.Status == RunBudgetExceeded {
				status = re.Status
			}
			code, message = re.Code, re.Message
		case errors.As(err, &ae) && ae.Code != apperr.Internal:
			code, message = string(ae.Code), ae.Message
		default:
			code, message = "internal", "the run failed on the server; send the message again to retry"
		}
		s.logger.WarnContext(ctx, "chat run ended", "run_id", r.ID, "status", status, "error", err)
	}
	err = s.db.InTx(context.WithoutCancel(ctx), func(tx db.Tx) error {
		_, err := finishRun(context.WithoutCancel(ctx), tx, r, status, code, message)
		return err
	})
	if errors.Is(err, errNotFound) || apperr.Is(err, apperr.NotFound) {
		return nil // deleted meanwhile
	}
	if err == nil {
		s.metrics.ChatRunEnded(status)
	}
	return err
}
