package page_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/page"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// item is a row of the test table: a sort key k shared by many rows, so
// that the order of ties rests on id alone.
type item struct {
	ID   uuid.UUID
	K    int
	Meta string
}

// itemKey is the cursor of the test lists. Valid refuses a negative k: the
// way a list refuses cursor values it could not have made.
type itemKey struct {
	K  int       `json:"k"`
	ID uuid.UUID `json:"id"`
}

func (k itemKey) Values() []any { return []any{k.K, k.ID} }
func (k itemKey) Valid() bool   { return k.K >= 0 }

func keyOf(it item) itemKey { return itemKey{K: it.K, ID: it.ID} }

func scanItem(r pgx.Row) (item, error) {
	var it item
	err := r.Scan(&it.ID, &it.K, &it.Meta)
	return it, err
}

const selectItems = `SELECT id, k, meta::text FROM items`

type testBundle struct {
	ctx   context.Context
	tx    pgx.Tx
	items []item // as inserted
}

// setup makes a table of n items in a transaction of its own, rolled back
// when the test ends: k takes the values 0-3 so each is shared, meta names
// the key "even" or "odd".
func setup(t *testing.T, n int) *testBundle {
	t.Helper()
	ctx := t.Context()
	tx, err := dbtest.Pool(t).Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.WithoutCancel(ctx)) })
	_, err = tx.Exec(ctx, `CREATE TEMP TABLE items (id uuid PRIMARY KEY, k int NOT NULL, meta jsonb NOT NULL) ON COMMIT DROP`)
	require.NoError(t, err)
	b := &testBundle{ctx: ctx, tx: tx}
	for i := range n {
		it := item{ID: uuid.New(), K: i % 4, Meta: `{"odd": true}`}
		if i%2 == 0 {
			it.Meta = `{"even": true}`
		}
		_, err := tx.Exec(ctx, `INSERT INTO items (id, k, meta) VALUES ($1, $2, $3)`, it.ID, it.K, it.Meta)
		require.NoError(t, err)
		b.items = append(b.items, it)
	}
	return b
}

// list fetches one page of all items sorted by (k, id).
func (b *testBundle) list(limit int, cursor string, order page.Order, conds ...func(*page.List[item, itemKey])) (*page.Page[item], error) {
	l, err := page.NewList(limit, cursor, keyOf)
	if err != nil {
		return nil, err
	}
	for _, c := range conds {
		c(l)
	}
	l.OrderBy(order, "k", "id")
	return l.Fetch(b.ctx, b.tx, selectItems, scanItem)
}

// all pages through the list and returns the items in the order received.
func (b *testBundle) all(t *testing.T, limit int, order page.Order, conds ...func(*page.List[item, itemKey])) []item {
	t.Helper()
	var out []item
	cursor := ""
	for range len(b.items) + 2 {
		p, err := b.list(limit, cursor, order, conds...)
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Items), limit)
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			return out
		}
		require.Len(t, p.Items, limit, "a page with a next cursor is full")
		cursor = p.NextCursor
	}
	t.Fatal("the list does not end")
	return nil
}

// sorted is items in (k, id) order, as Postgres compares uuids (bytewise).
func sorted(items []item, order page.Order) []item {
	out := slices.Clone(items)
	slices.SortFunc(out, func(a, b item) int {
		c := a.K - b.K
		if c == 0 {
			c = bytes.Compare(a.ID[:], b.ID[:])
		}
		if order == page.Desc {
			c = -c
		}
		return c
	})
	return out
}

func requireFieldError(t *testing.T, err error, location string) {
	t.Helper()
	var e *apperr.Error
	require.True(t, errors.As(err, &e), "want a field error on %s, got %v", location, err)
	require.Equal(t, apperr.Invalid, e.Code)
	require.Len(t, e.Fields, 1)
	require.Equal(t, location, e.Fields[0].Location)
}

func TestOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, 23) // 23 rows over 4 values of k: ties on every page
	for name, order := range map[string]page.Order{"asc": page.Asc, "desc": page.Desc} {
		for _, limit := range []int{1, 2, 3, 5, 22, 23, 24} {
			t.Run(fmt.Sprintf("%s/limit %d", name, limit), func(t *testing.T) {
				require.Equal(t, sorted(b.items, order), b.all(t, limit, order),
					"every row once, ties on k in id order")
			})
		}
	}
}

func TestExactlyLimitRowsHasNoNextCursor(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	p, err := b.list(3, "", page.Asc)
	require.NoError(t, err)
	require.Len(t, p.Items, 3)
	require.Empty(t, p.NextCursor)

	// One row more than the page: a cursor, and a last page of that row.
	p, err = b.list(2, "", page.Asc)
	require.NoError(t, err)
	require.Len(t, p.Items, 2)
	require.NotEmpty(t, p.NextCursor)
	last, err := b.list(2, p.NextCursor, page.Asc)
	require.NoError(t, err)
	require.Equal(t, sorted(b.items, page.Asc)[2:], last.Items)
	require.Empty(t, last.NextCursor)
}

func TestEmptyPage(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	p, err := b.list(0, "", page.Desc)
	require.NoError(t, err)
	require.NotNil(t, p.Items)
	require.Empty(t, p.Items)
	require.Empty(t, p.NextCursor)
	raw, err := json.Marshal(p)
	require.NoError(t, err)
	require.JSONEq(t, `{"items": []}`, string(raw))
	require.Equal(t, `{"items":[]}`, string(raw), "next_cursor is absent on the last page")
}

func TestPageJSON(t *testing.T) {
	t.Parallel()
	p := page.Page[int]{Items: []int{1, 2}, NextCursor: "abc"}
	raw, err := json.Marshal(p)
	require.NoError(t, err)
	require.Equal(t, `{"items":[1,2],"next_cursor":"abc"}`, string(raw))
	mapped := page.Map(&page.Page[int]{}, func(int) string { return "" })
	raw, err = json.Marshal(mapped)
	require.NoError(t, err)
	require.Equal(t, `{"items":[]}`, string(raw), "Map makes nil items an empty list")
}

func TestLimitBounds(t *testing.T) {
	t.Parallel()
	b := setup(t, page.MaxLimit+1)
	for limit, want := range map[int]int{0: page.DefaultLimit, 1: 1, page.MaxLimit: page.MaxLimit} {
		p, err := b.list(limit, "", page.Asc)
		require.NoError(t, err)
		require.Len(t, p.Items, want, "limit %d", limit)
		require.NotEmpty(t, p.NextCursor)
	}
	for _, limit := range []int{-1, page.MaxLimit + 1, 1 << 40} {
		_, err := b.list(limit, "", page.Asc)
		requireFieldError(t, err, "limit")
	}
}

func TestForgedCursor(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for name, cursor := range map[string]string{
		"not base64":              "garbage!",
		"not json":                enc("not json"),
		"json of another shape":   enc(`[1, 2]`),
		"a value of another type": enc(`{"k": "x", "id": "` + uuid.NewString() + `"}`),
		"NUL in a string":         enc(`{"k": 1, "id": "\u0000"}`),
		"a key it cannot make":    enc(`{"k": -1, "id": "` + uuid.NewString() + `"}`),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := b.list(2, cursor, page.Asc)
			requireFieldError(t, err, "cursor")
		})
	}
}

// TestJSONBQuestionMark: conditions are SQL as Postgres reads it, so jsonb's
// ?, ?| and ?& operators work (a '?' placeholder style broke the first
// condition that used them).
func TestJSONBQuestionMark(t *testing.T) {
	t.Parallel()
	b := setup(t, 10)
	var even, odd []item
	for _, it := range b.items {
		if it.Meta == `{"even": true}` {
			even = append(even, it)
		} else {
			odd = append(odd, it)
		}
	}
	for name, tc := range map[string]struct {
		cond string
		args pgx.NamedArgs
		want []item
	}{
		"? with a literal":   {`meta ? 'even'`, nil, even},
		"? with a value":     {`meta ? @key`, pgx.NamedArgs{"key": "odd"}, odd},
		"?| with values":     {`meta ?| @keys::text[]`, pgx.NamedArgs{"keys": []string{"even", "odd"}}, b.items},
		"?& with values":     {`meta ?& @keys::text[]`, pgx.NamedArgs{"keys": []string{"even", "odd"}}, nil},
		"? and another cond": {`meta ? 'even' AND k >= @k`, pgx.NamedArgs{"k": 2}, keep(even, func(it item) bool { return it.K >= 2 })},
	} {
		t.Run(name, func(t *testing.T) {
			got := b.all(t, 3, page.Desc, func(l *page.List[item, itemKey]) { l.Where(tc.cond, tc.args) })
			require.Equal(t, sorted(tc.want, page.Desc), got)
		})
	}
}

// TestConditionsCombine: every condition must hold, one with an OR of its
// own included.
func TestConditionsCombine(t *testing.T) {
	t.Parallel()
	b := setup(t, 12)
	got := b.all(t, 2, page.Asc, func(l *page.List[item, itemKey]) {
		l.Where("k = @a OR k = @b", pgx.NamedArgs{"a": 0, "b": 1})
		l.Where("meta ? 'odd'")
	})
	require.NotEmpty(t, got)
	require.Equal(t, sorted(keep(b.items, func(it item) bool { return it.K == 1 }), page.Asc), got)
}

func TestFilterValues(t *testing.T) {
	t.Parallel()
	var f page.Filter
	require.Equal(t, "TRUE", f.SQL())
	f.Where("a = @a", pgx.NamedArgs{"a": 1})
	f.Where("b = @b OR c")
	require.Equal(t, "(a = @a) AND (b = @b OR c)", f.SQL())
	require.Panics(t, func() { f.Where("a <> @a", pgx.NamedArgs{"a": 2}) }, "one name, two values")
	require.Panics(t, func() { f.Args(pgx.NamedArgs{"a": 2}) })

	args := f.Args(pgx.NamedArgs{"b": 2})
	require.Equal(t, pgx.StrictNamedArgs{"a": 1, "b": 2}, args)
	args["x"] = 3
	require.Equal(t, pgx.StrictNamedArgs{"a": 1, "b": 2}, f.Args(pgx.NamedArgs{"b": 2}), "each call a new map")

	// A value named but not given fails instead of reading NULL.
	b := setup(t, 1)
	_, err := b.list(1, "", page.Asc, func(l *page.List[item, itemKey]) { l.Where("k = @missing") })
	require.ErrorContains(t, err, "missing")
}

func TestParseSort(t *testing.T) {
	t.Parallel()
	for sort, want := range map[string]struct {
		col   string
		order page.Order
	}{"title": {"title", page.Asc}, "-updated_at": {"updated_at", page.Desc}, "": {"", page.Asc}} {
		col, order := page.ParseSort(sort)
		require.Equal(t, want.col, col, sort)
		require.Equal(t, want.order, order, sort)
	}
}

func keep(items []item, f func(item) bool) []item {
	var out []item
	for _, it := range items {
		if f(it) {
			out = append(out, it)
		}
	}
	return out
}
