-- +goose Up

-- Before the task index checked goal ownership, a task block's goalId was
-- linked whatever goal it named. Unlink every task from a goal its owner
-- does not own (another user's, or one that no longer exists): the same
-- rows a re-index now writes. The goalId stays in the note's block.
UPDATE tasks t SET goal_id = NULL
WHERE t.goal_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM goals g WHERE g.id = t.goal_id AND g.user_id = t.user_id);

-- +goose Down
-- Nothing to undo: the links were never valid.
SELECT 1;
