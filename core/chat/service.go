package chat

import (
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/metrics"
)

// Agents is what chat needs of the agent registry: the configured agents in
// config order (the first answers when a message names none). *Registry
// is one.
type Agents interface {
	Agents() []Agent
	Agent(name string) (Agent, bool)
}

// Options configure a Service.
type Options struct {
	DB     *db.DB
	Agents Agents
	// Hub lets a running turn hear run.cancel from any API process; nil
	// leaves cancellation to the checks a Runner makes (Turn.CancelRequested).
	Hub *Hub
	// Queue is the River queue of run jobs (default: the default queue).
	Queue  string
	Logger *slog.Logger
	// Metrics counts the runs that end (nil: none).
	Metrics *metrics.Metrics
}

// Service is conversations, messages, runs and their events.
type Service struct {
	db      *db.DB
	agents  Agents
	hub     *Hub
	queue   string
	logger  *slog.Logger
	metrics *metrics.Metrics
}

// NewService returns the chat service.
func NewService(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Queue == "" {
		o.Queue = river.QueueDefault
	}
	return &Service{db: o.DB, agents: o.Agents, hub: o.Hub, queue: o.Queue, logger: o.Logger, metrics: o.Metrics}
}

// Hub is the service's event hub (nil when it has none).
func (s *Service) Hub() *Hub { return s.hub }

// errNotFound is the answer for a conversation that does not exist or is
// another user's: the two are never told apart.
var errNotFound = apperr.New(apperr.NotFound, "conversation not found")
