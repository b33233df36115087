package note

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/consilium-hq/consilium/core/db"
)

// SearchInlineBytes is the largest title plus text whose search vector a
// save computes itself when search jobs are on (Options.SearchJobs); a
// larger note is saved with a stale vector and a RefreshSearchArgs job.
// Postgres' to_tsvector runs at about 11 MB/s here, so this bounds the
// in-save cost to under a millisecond.
const SearchInlineBytes = 8 << 10

// searchVector is a note's search vector from its title and text columns
// or parameters: title words weigh A, text words B.
func searchVector(title, text string) string {
	return fmt.Sprintf("(setweight(to_tsvector('simple', %s), 'A') || setweight(to_tsvector('simple', %s), 'B'))", title, text)
}

// searchMatch is the full-text condition of note lists for the tsquery
// expression q: notes whose vector is stale are matched on their text
// directly, so a search finds what was saved a moment ago.
func searchMatch(q string) string {
	return fmt.Sprintf("(search @@ %[1]s OR (search_stale AND %[2]s @@ %[1]s))", q, searchVector("title", "plain_text"))
}

// RefreshSearchArgs is the job that builds the search vector of a note
// saved with a large text. Saves while one waits or runs do not add
// another: the job reads the text when it runs.
type RefreshSearchArgs struct {
	NoteID uuid.UUID `json:"note_id" river:"unique"`
	UserID uuid.UUID `json:"user_id"`
}

func (RefreshSearchArgs) Kind() string { return "note.refresh_search" }

func (RefreshSearchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateScheduled, rivertype.JobStateRetryable,
	}}}
}

// RefreshSearch builds a stale search vector from the note's current title
// and text. The worker calls it in the transaction that completes its job,
// so a save that commits afterwards always finds no job and queues one.
func RefreshSearch(ctx context.Context, tx db.Tx, userID, noteID uuid.UUID) error {
	_, err := tx.Exec(ctx, `UPDATE notes SET search = `+searchVector("title", "plain_text")+`, search_stale = false
		WHERE id = $1 AND user_id = $2 AND search_stale`, noteID, userID)
	if err != nil {
		return fmt.Errorf("refresh search vector of note %s: %w", noteID, err)
	}
	return nil
}
