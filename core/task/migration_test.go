package task_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/core/user"
	"github.com/consilium-hq/consilium/migrations"
)

// TestMigrationUnlinksForeignGoals: links written before the index checked
// goal ownership (another user's goal) are cleared by migration 00005;
// links to the owner's own goals stay.
func TestMigrationUnlinksForeignGoals(t *testing.T) {
	b := setup(t, nil)
	ctx := context.Background()
	other, err := user.Create(ctx, b.db.Pool, &user.CreateParams{Email: "o-" + uuid.NewString()[:12] + "@example.com"})
	require.NoError(t, err)
	goal := func(owner uuid.UUID) uuid.UUID {
		var id uuid.UUID
		require.NoError(t, b.db.Pool.QueryRow(ctx, `INSERT INTO goals (user_id, title) VALUES ($1, 'g') RETURNING id`, owner).Scan(&id))
		return id
	}
	own, foreign := goal(b.userID), goal(other.ID)
	var ids []uuid.UUID
	for range 2 {
		tk, err := b.tasks.Create(ctx, b.userID, &task.CreateParams{Fields: blocknote.TaskFields{Title: "t"}})
		require.NoError(t, err)
		ids = append(ids, tk.ID)
	}
	mine, theirs := ids[0], ids[1]
	// As the index wrote them before: whatever goal the block named.
	for id, g := range map[uuid.UUID]uuid.UUID{mine: own, theirs: foreign} {
		_, err = b.db.Pool.Exec(ctx, `UPDATE tasks SET goal_id = $2 WHERE id = $1`, id, g)
		require.NoError(t, err)
	}

	raw, err := fs.ReadFile(migrations.FS, "00005_unlink_foreign_goals.sql")
	require.NoError(t, err)
	up, _, ok := strings.Cut(string(raw), "-- +goose Down")
	require.True(t, ok)
	_, err = b.db.Pool.Exec(ctx, up)
	require.NoError(t, err)

	goalOf := func(id uuid.UUID) *uuid.UUID {
		var g *uuid.UUID
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT goal_id FROM tasks WHERE id = $1`, id).Scan(&g))
		return g
	}
	require.Nil(t, goalOf(theirs), "another user's goal is unlinked")
	require.Equal(t, &own, goalOf(mine), "the owner's own goal stays linked")
}
