package api

import (
	"time"

	"github.com/consilium-hq/consilium/core/apperr"
)

const dateLayout = "2006-01-02"

// parseDate reads a YYYY-MM-DD date; empty gives nil.
func parseDate(location, s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return nil, apperr.Field(location, "must be a date as YYYY-MM-DD", s)
	}
	return &t, nil
}

func formatDate(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.Format(dateLayout)
	return &s
}
