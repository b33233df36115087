package plan_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/plan"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestPeriodFor(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		kind       string
		date       string
		prefs      plan.Preferences
		start, end string // end is the last day
		zone       string
	}{
		"week starts monday by default":     {"week", "2026-11-25", plan.Preferences{}, "2026-11-23", "2026-11-29", "UTC"},
		"monday itself":                     {"week", "2026-11-23", plan.Preferences{}, "2026-11-23", "2026-11-29", "UTC"},
		"sunday closes a monday week":       {"week", "2026-11-29", plan.Preferences{}, "2026-11-23", "2026-11-29", "UTC"},
		"week starting sunday":              {"week", "2026-11-25", plan.Preferences{WeekStart: "sunday"}, "2026-11-22", "2026-11-28", "UTC"},
		"sunday opens a sunday week":        {"week", "2026-11-29", plan.Preferences{WeekStart: "Sunday"}, "2026-11-29", "2026-12-05", "UTC"},
		"week across a year":                {"week", "2027-01-01", plan.Preferences{}, "2026-12-28", "2027-01-03", "UTC"},
		"month":                             {"month", "2026-02-14", plan.Preferences{}, "2026-02-01", "2026-02-28", "UTC"},
		"leap february":                     {"month", "2028-02-14", plan.Preferences{}, "2028-02-01", "2028-02-29", "UTC"},
		"quarter":                           {"quarter", "2026-11-25", plan.Preferences{}, "2026-10-01", "2026-12-31", "UTC"},
		"first quarter":                     {"quarter", "2026-03-31", plan.Preferences{}, "2026-01-01", "2026-03-31", "UTC"},
		"in the user's zone":                {"week", "2026-11-25", plan.Preferences{Timezone: "Asia/Tokyo"}, "2026-11-23", "2026-11-29", "Asia/Tokyo"},
		"a week with a DST change (Europe)": {"week", "2026-10-25", plan.Preferences{Timezone: "Europe/Paris"}, "2026-10-19", "2026-10-25", "Europe/Paris"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := plan.PeriodFor(tc.kind, day(tc.date), tc.prefs)
			require.NoError(t, err)
			require.Equal(t, tc.start, p.Start.Format("2006-01-02"))
			require.Equal(t, tc.end, p.LastDay().Format("2006-01-02"))
			require.Equal(t, tc.zone, p.Location.String())
			require.Zero(t, p.Start.Hour(), "periods start at midnight in the user's zone")
			require.Zero(t, p.End.Hour())
		})
	}

	_, err := plan.PeriodFor("fortnight", day("2026-11-25"), plan.Preferences{})
	require.True(t, apperr.Is(err, apperr.Invalid))
	_, err = plan.PeriodFor("week", day("2026-11-25"), plan.Preferences{Timezone: "Mars/Olympus"})
	require.True(t, apperr.Is(err, apperr.Invalid))
	_, err = plan.PeriodFor("week", day("2026-11-25"), plan.Preferences{WeekStart: "someday"})
	require.True(t, apperr.Is(err, apperr.Invalid))

	// Midnight in Tokyo is 15:00 UTC the day before.
	p, err := plan.PeriodFor("week", day("2026-11-25"), plan.Preferences{Timezone: "Asia/Tokyo"})
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC), p.Start.UTC())
}
