package field_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/field"
)

func TestDate(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		in string
		ok bool
	}{
		"a day":                {"2026-03-02", true},
		"the first date":       {"0001-01-01", true},
		"the last date":        {"9999-12-31", true},
		"a leap day":           {"2028-02-29", true},
		"year 0":               {"0000-01-01", false}, // Postgres has no year 0
		"year 0, last day":     {"0000-12-31", false},
		"five-digit year":      {"10000-01-01", false},
		"not a leap day":       {"2026-02-29", false},
		"month 13":             {"2026-13-01", false},
		"one-digit month":      {"2026-3-02", false},
		"with a time":          {"2026-03-02T00:00:00Z", false},
		"negative year":        {"-001-01-01", false},
		"empty":                {"", false},
		"spaces around":        {" 2026-03-02", false},
		"a NUL":                {"2026-03-0\x00", false},
		"day/month/year order": {"02-03-2026", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.ok, field.ValidDate(tc.in))
			d, err := field.Date("due_date", tc.in)
			if tc.ok {
				require.NoError(t, err)
				require.Equal(t, tc.in, d.Format(field.DateLayout))
				require.Equal(t, time.UTC, d.Location())
				return
			}
			var e *apperr.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, apperr.Invalid, e.Code)
			require.Len(t, e.Fields, 1)
			require.Equal(t, "due_date", e.Fields[0].Location, "the error names the field it was given")
			require.Equal(t, field.DateRule, e.Fields[0].Message)
		})
	}

	d, err := field.OptionalDate("due_date", "")
	require.NoError(t, err)
	require.Nil(t, d, "an empty optional date is no date")
	_, err = field.OptionalDate("due_date", "0000-01-01")
	require.True(t, apperr.Is(err, apperr.Invalid))
}

func TestCheckDate(t *testing.T) {
	t.Parallel()
	require.NoError(t, field.CheckDate("d", field.FirstDate))
	require.NoError(t, field.CheckDate("d", field.LastDate))
	require.True(t, apperr.Is(field.CheckDate("d", field.FirstDate.AddDate(0, 0, -1)), apperr.Invalid))
	require.True(t, apperr.Is(field.CheckDate("d", field.LastDate.AddDate(0, 0, 1)), apperr.Invalid))
	require.True(t, apperr.Is(field.CheckDate("d", time.Time{}.AddDate(-1, 0, 0)), apperr.Invalid))
}

func TestWritableInstant(t *testing.T) {
	t.Parallel()
	// Whatever WritableInstant accepts, encoding/json can write; the first
	// instant it refuses past 9999 is one the encoder refuses too.
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	for _, in := range []time.Time{
		field.FirstDate,
		time.Date(1, 1, 1, 0, 0, 0, 0, paris),
		time.Date(9999, 12, 31, 23, 59, 59, 0, paris),
		field.LastDate,
	} {
		require.True(t, field.WritableInstant(in), in)
		_, err := in.MarshalJSON()
		require.NoError(t, err, in)
	}
	past := time.Date(10000, 1, 1, 0, 0, 0, 0, paris)
	require.False(t, field.WritableInstant(past))
	_, err = past.MarshalJSON()
	require.Error(t, err, "the encoder refuses year 10000: the reason the rule exists")
	require.False(t, field.WritableInstant(time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC)))
}

func TestTimeOfDay(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"00:00", "09:30", "23:59"} {
		require.True(t, field.ValidTimeOfDay(ok), ok)
		require.NoError(t, field.TimeOfDay("due_time", ok))
	}
	for _, bad := range []string{"", "24:00", "9:30", "09:60", "09:30:00", "0930", "-1:00", "09:3\x00"} {
		require.False(t, field.ValidTimeOfDay(bad), bad)
		require.True(t, apperr.Is(field.TimeOfDay("due_time", bad), apperr.Invalid), bad)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, ok := range []int{1, 2, field.MaxVersion} {
		require.True(t, field.ValidVersion(ok), ok)
		require.NoError(t, field.Version("version", ok))
	}
	for _, bad := range []int{0, -1, field.MaxVersion + 1, 99999999999} {
		require.False(t, field.ValidVersion(bad), bad)
		err := field.Version("version", bad)
		var e *apperr.Error
		require.ErrorAs(t, err, &e, bad)
		require.Equal(t, "version", e.Fields[0].Location)
	}
}
