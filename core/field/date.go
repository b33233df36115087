package field

import (
	"fmt"
	"math"
	"time"

	"github.com/consilium-hq/consilium/core/apperr"
)

// Dates are calendar days written YYYY-MM-DD in years 1 to 9999: the years
// Postgres's date type and RFC 3339 (what encoding/json writes for a
// time.Time) share. Year 0 is refused: Postgres has none (a Go year 0 is
// stored as 1 BC, or refused by a ::date cast), and a year past 9999 cannot
// be written as a JSON time at all (time.Time.MarshalJSON refuses it).
const DateLayout = time.DateOnly

// FirstDate and LastDate bound every date the product accepts.
var (
	FirstDate = time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)
	LastDate  = time.Date(9999, time.December, 31, 0, 0, 0, 0, time.UTC)
)

// DateRule says what a date field accepts, for error messages and docs.
const DateRule = "must be a date as YYYY-MM-DD, from 0001-01-01 to 9999-12-31"

// ValidDate reports whether s is a date written YYYY-MM-DD in years 1 to
// 9999.
func ValidDate(s string) bool {
	_, ok := parseDate(s)
	return ok
}

func parseDate(s string) (time.Time, bool) {
	if len(s) != len(DateLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(DateLayout, s)
	if err != nil || t.Year() < 1 {
		return time.Time{}, false
	}
	return t, true
}

// Date reads the date field name (midnight UTC); a bad one is an invalid
// error naming the field.
func Date(name, s string) (time.Time, error) {
	t, ok := parseDate(s)
	if !ok {
		return time.Time{}, apperr.Field(name, DateRule, s)
	}
	return t, nil
}

// OptionalDate reads a date field that may be left empty ("" gives nil).
func OptionalDate(name, s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := Date(name, s)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// CheckDate checks a date a caller already holds as a time.Time (its day
// in its own location).
func CheckDate(name string, t time.Time) error {
	if !InDateRange(t) {
		return apperr.Field(name, DateRule, t.Format(DateLayout))
	}
	return nil
}

// InDateRange reports whether t's day (in its own location) is in years 1
// to 9999.
func InDateRange(t time.Time) bool {
	y := t.Year()
	return y >= 1 && y <= 9999
}

// WritableInstant reports whether an instant can be written as an RFC 3339
// time (in its own location, as encoding/json writes it) within the years
// dates allow. Anything derived from a date by arithmetic (the end of a
// period, a day in another zone) must pass it before it reaches a response:
// the JSON encoder fails on a year past 9999 after the status is written.
func WritableInstant(t time.Time) bool {
	y := t.Year()
	return y >= 1 && y <= 9999
}

// TimeOfDayRule says what a time-of-day field accepts.
const TimeOfDayRule = "must be a time of day as HH:MM (00:00 to 23:59)"

// ValidTimeOfDay reports whether s is a time of day written HH:MM.
func ValidTimeOfDay(s string) bool {
	if len(s) != len("15:04") {
		return false
	}
	_, err := time.Parse("15:04", s)
	return err == nil
}

// TimeOfDay checks the time-of-day field name.
func TimeOfDay(name, s string) error {
	if !ValidTimeOfDay(s) {
		return apperr.Field(name, TimeOfDayRule, s)
	}
	return nil
}

// MaxVersion is the largest version number of a note, task or goal:
// versions are Postgres integers (int4), and a larger number sent as a
// query argument fails in the driver, not in the query.
const MaxVersion = math.MaxInt32

// ValidVersion reports whether v can be a version number.
func ValidVersion(v int) bool { return v >= 1 && v <= MaxVersion }

// VersionRule says what a version field accepts.
var VersionRule = fmt.Sprintf("must be a version number from 1 to %d", MaxVersion)

// Version checks the version-number field name.
func Version(name string, v int) error {
	if !ValidVersion(v) {
		return apperr.Field(name, VersionRule, v)
	}
	return nil
}
