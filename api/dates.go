package api

import (
	"time"

	"github.com/consilium-hq/consilium/core/field"
)

const dateLayout = field.DateLayout

// parseDate reads a YYYY-MM-DD date in years 1 to 9999 (field.Date); empty
// gives nil.
func parseDate(location, s string) (*time.Time, error) {
	return field.OptionalDate(location, s)
}

func formatDate(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.Format(dateLayout)
	return &s
}
