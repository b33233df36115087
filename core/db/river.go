package db

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"
)

type pgxTx = pgx.Tx

// quietLogger drops River migrator's info chatter below warn; the migrator
// logs what it applied itself.
func quietLogger(l *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{l.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}
