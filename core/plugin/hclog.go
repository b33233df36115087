package plugin

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// slogHCLogger adapts slog to the hclog.Logger go-plugin logs through,
// including the plugin's stderr, which go-plugin re-logs line by line.
type slogHCLogger struct {
	l    *slog.Logger
	name string
	args []any
}

var _ hclog.Logger = (*slogHCLogger)(nil)

func newHCLogger(l *slog.Logger) hclog.Logger { return &slogHCLogger{l: l} }

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (h *slogHCLogger) Log(level hclog.Level, msg string, args ...any) {
	lvl := slogLevel(level)
	if !h.l.Enabled(context.Background(), lvl) {
		return
	}
	all := make([]any, 0, len(h.args)+len(args)+2)
	all = append(all, h.args...)
	// go-plugin appends the plugin's own timestamp; slog has one.
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == "timestamp" {
			continue
		}
		all = append(all, args[i], args[i+1])
	}
	if h.name != "" {
		all = append(all, "logger", h.name)
	}
	h.l.Log(context.Background(), lvl, msg, all...)
}

func (h *slogHCLogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *slogHCLogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *slogHCLogger) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *slogHCLogger) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *slogHCLogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *slogHCLogger) IsTrace() bool { return h.l.Enabled(context.Background(), slog.LevelDebug) }
func (h *slogHCLogger) IsDebug() bool { return h.l.Enabled(context.Background(), slog.LevelDebug) }
func (h *slogHCLogger) IsInfo() bool  { return h.l.Enabled(context.Background(), slog.LevelInfo) }
func (h *slogHCLogger) IsWarn() bool  { return h.l.Enabled(context.Background(), slog.LevelWarn) }
func (h *slogHCLogger) IsError() bool { return h.l.Enabled(context.Background(), slog.LevelError) }

func (h *slogHCLogger) ImpliedArgs() []any { return h.args }

func (h *slogHCLogger) With(args ...any) hclog.Logger {
	n := *h
	n.args = append(append([]any(nil), h.args...), args...)
	return &n
}

func (h *slogHCLogger) Name() string { return h.name }

func (h *slogHCLogger) Named(name string) hclog.Logger {
	n := *h
	if n.name != "" {
		n.name += "." + name
	} else {
		n.name = name
	}
	return &n
}

func (h *slogHCLogger) ResetNamed(name string) hclog.Logger {
	n := *h
	n.name = name
	return &n
}

func (h *slogHCLogger) SetLevel(hclog.Level) {}

func (h *slogHCLogger) GetLevel() hclog.Level {
	switch {
	case h.IsDebug():
		return hclog.Debug
	case h.IsInfo():
		return hclog.Info
	case h.IsWarn():
		return hclog.Warn
	default:
		return hclog.Error
	}
}

func (h *slogHCLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

func (h *slogHCLogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &lineLogger{log: func(line string) { h.Info(line) }}
}

// lineLogger logs each complete line written to it.
type lineLogger struct {
	mu  sync.Mutex
	buf bytes.Buffer
	log func(line string)
}

func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(w.buf.Next(i+1)), "\r\n")
		if line != "" {
			w.log(line)
		}
	}
	return len(p), nil
}
