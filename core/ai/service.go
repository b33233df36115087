package ai

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/wordnet"
)

// Providers name the llm plugins that do each kind of work (see Resolve).
type Providers struct {
	Embedding     string
	Chat          string
	Transcription string
}

// Options configure a Service.
type Options struct {
	DB     *db.DB
	Notes  *note.Service
	Config config.AI
	// Models are the model providers (the plugin host, or a scripted
	// model in tests); nil makes every model call unavailable (notes and
	// documents are still saved, and their jobs retry).
	Models    model.Source
	Providers Providers
	// Queue is the River queue of the AI jobs (default: the default queue).
	Queue  string
	Logger *slog.Logger
}

// Service is retrieval, documents and transcription.
type Service struct {
	db        *db.DB
	notes     *note.Service
	cfg       config.AI
	models    model.Source
	providers Providers
	queue     string
	logger    *slog.Logger

	// indexed remembers the vector indexes known to exist, by name;
	// noIndex when a user's index was last found missing.
	indexed sync.Map
	noIndex sync.Map
	// lastModel is the embedding model last used (provider/model).
	lastModel atomic.Value
	// chunkCounts caches each user's number of chunks (uuid.UUID ->
	// countEntry).
	chunkCounts sync.Map
	// countsRefreshing holds the users whose count is being refreshed.
	countsRefreshing sync.Map
	// lex is the WordNet database (lexicon), read once.
	lexOnce sync.Once
	lex     *wordnet.Lexicon
}

// New returns the service. It fails on an agent that names no configured
// provider.
func New(o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Queue == "" {
		o.Queue = river.QueueDefault
	}
	s := &Service{db: o.DB, notes: o.Notes, cfg: o.Config, models: o.Models, providers: o.Providers,
		queue: o.Queue, logger: o.Logger}
	// WordNet takes a fraction of a second to read: not on the first
	// question's time.
	go s.lexicon(context.Background())
	return s, nil
}

// Resolve picks the plugin of each kind of work: the configured name, else
// the plugin named "local" when it is among the llm plugins, else the
// first enabled llm plugin. It fails when a configured name is not an llm
// plugin.
func Resolve(cfg config.AI, plugins plugin.Config) (Providers, error) {
	var llms []string
	enabled := map[string]bool{}
	for _, it := range plugins.Items {
		if it.Kind == sdk.KindLLM {
			llms = append(llms, it.Name)
			enabled[it.Name] = it.Enabled
		}
	}
	def := ""
	if _, ok := enabled["local"]; ok {
		def = "local"
	} else {
		for _, n := range llms {
			if enabled[n] {
				def = n
				break
			}
		}
	}
	var errs []string
	pick := func(key, name string) string {
		if name == "" {
			return def
		}
		if _, ok := enabled[name]; !ok {
			errs = append(errs, fmt.Sprintf("ai.%s: %q is not an llm plugin under plugins.items", key, name))
		}
		return name
	}
	p := Providers{
		Embedding:     pick("embedding_provider", cfg.EmbeddingProvider),
		Chat:          pick("chat_provider", cfg.ChatProvider),
		Transcription: pick("transcription_provider", cfg.TranscriptionProvider),
	}
	for i, a := range cfg.Agents {
		if a.Provider != "" {
			if _, ok := enabled[a.Provider]; !ok {
				errs = append(errs, fmt.Sprintf("ai.agents[%d].provider: %q is not an llm plugin under plugins.items", i, a.Provider))
			}
		}
	}
	if len(errs) > 0 {
		return p, fmt.Errorf("invalid config: %s", strings.Join(errs, "; "))
	}
	return p, nil
}

// llm returns the named model provider.
func (s *Service) llm(name, what string) (model.LLM, error) {
	if name == "" {
		return nil, &sdk.Error{Code: sdk.CodeTemporary, Message: "no model provider is configured for " + what, Err: plugin.ErrUnavailable}
	}
	if s.models == nil {
		return nil, &sdk.Error{Code: sdk.CodeTemporary, Message: "model plugins are not running in this process", Err: plugin.ErrUnavailable}
	}
	return s.models.Model(name)
}

// insertOpts are the options of every AI job: its queue, and no duplicate
// of a job that has not finished yet. A job that is running counts too
// (River requires it); the note worker completes its job in the same
// transaction that writes the chunks, so a save that comes later always
// queues a new one.
func (s *Service) insertOpts() *river.InsertOpts {
	return &river.InsertOpts{
		Queue: s.queue,
		UniqueOpts: river.UniqueOpts{
			ByArgs: true,
			ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
				rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled},
		},
	}
}

// userError turns a model call's error into what an API caller is told.
func userError(what string, err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	var e *sdk.Error
	if !errors.As(err, &e) {
		if errors.Is(err, model.ErrUnknown) {
			return &apperr.Error{Code: apperr.Unavailable, Message: what + " is not available: its model provider is not configured", Err: err}
		}
		if errors.Is(err, context.Canceled) {
			return err
		}
		return &apperr.Error{Code: apperr.Unavailable, Message: what + " is not available right now; try again later", RetryAfter: 5 * time.Second, Err: err}
	}
	switch e.Code {
	case sdk.CodeRateLimited:
		return &apperr.Error{Code: apperr.RateLimited, Message: what + ": the model provider is rate limiting; try again later",
			RetryAfter: max(e.RetryAfter, time.Second), Err: err}
	case sdk.CodePermanent:
		return &apperr.Error{Code: apperr.Invalid, Message: what + ": " + e.Message, Err: err}
	case sdk.CodeTemporary:
		return &apperr.Error{Code: apperr.Unavailable, Message: what + " is not available right now (" + e.Message + "); try again later",
			RetryAfter: max(e.RetryAfter, 5*time.Second), Err: err}
	default:
		return &apperr.Error{Code: apperr.Unavailable, Message: what + " is not available: " + e.Message, Err: err}
	}
}

// Limits are the sizes of uploads the service accepts.
type Limits struct {
	MaxUploadBytes int64
	MaxImageBytes  int64
}

// Limits returns the configured upload limits.
func (s *Service) Limits() Limits {
	return Limits{MaxUploadBytes: s.cfg.MaxUploadBytes, MaxImageBytes: s.cfg.MaxImageBytes}
}

// Queue is the River queue of the service's jobs.
func (s *Service) Queue() string { return s.queue }
