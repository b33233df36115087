package page

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Key is the sort key of a list's item, what its cursor carries: a struct
// of the list's own, encoded as JSON in the opaque cursor.
type Key interface {
	// Values are the key's values for the list's sort columns (OrderBy), in
	// their order.
	Values() []any
}

// validKey is a Key that tells whether a decoded cursor holds values its
// list could have made. A forged cursor can carry what Postgres refuses (a
// date that is no date); that must answer a field error, not a 500.
type validKey interface {
	Valid() bool
}

// CreatedKey is the key of lists sorted by creation time, then id.
type CreatedKey struct {
	At time.Time `json:"c"`
	ID uuid.UUID `json:"i"`
}

func (k CreatedKey) Values() []any { return []any{k.At, k.ID} }

// Order is the direction of a list's sort.
type Order bool

const (
	Asc  Order = false
	Desc Order = true
)

// ParseSort reads a sort as the API takes it: a column name, with a leading
// "-" to sort descending.
func ParseSort(sort string) (column string, order Order) {
	column, desc := strings.CutPrefix(sort, "-")
	return column, Order(desc)
}

// Querier is what a list needs of a pool or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// List is a list query being composed: the conditions of its rows (Filter),
// its sort order, and the page asked for.
type List[T any, K Key] struct {
	Filter
	// After is the key in the request's cursor, that of the last item of
	// the previous page; nil on the first page.
	After   *K
	key     func(T) K
	limit   int
	columns []string
	order   Order
}

// NewList starts a list of up to limit items (0: DefaultLimit) after cursor
// ("" for the first page). key gives an item's sort key; that of a page's
// last item becomes the next cursor. A limit out of bounds or a cursor this
// API did not make is a field error on limit or cursor.
func NewList[T any, K Key](limit int, cursor string, key func(T) K) (*List[T, K], error) {
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, err
	}
	l := &List[T, K]{key: key, limit: limit}
	var after K
	ok, err := decode(cursor, &after)
	if err != nil {
		return nil, err
	}
	if ok {
		if v, checks := any(after).(validKey); checks && !v.Valid() {
			return nil, errCursor
		}
		l.After = &after
	}
	return l, nil
}

// OrderBy sets the sort columns, SQL expressions, most significant first.
// The last must be unique among the rows listed (usually id): rows tied on
// the others are then ordered too, so no page skips or repeats one.
func (l *List[T, K]) OrderBy(order Order, columns ...string) {
	l.order, l.columns = order, columns
}

// Fetch runs query, a SELECT up to where its WHERE goes, with the list's
// conditions, past the cursor's key, in the list's order. It reads one row
// more than a page holds: that row only says that there is a next page,
// whose cursor is the key of this page's last item.
func (l *List[T, K]) Fetch(ctx context.Context, q Querier, query string, scan func(pgx.Row) (T, error)) (*Page[T], error) {
	if len(l.columns) == 0 {
		panic("page: a list is fetched without OrderBy")
	}
	f := Filter{conds: slices.Clone(l.conds), args: maps.Clone(l.args)}
	if l.After != nil {
		f.Where(l.keyset(*l.After))
	}
	dir := " ASC"
	if l.order == Desc {
		dir = " DESC"
	}
	sql := query + " WHERE " + f.SQL() + " ORDER BY " + strings.Join(l.columns, dir+", ") + dir + " LIMIT @page_limit"
	rows, err := q.Query(ctx, sql, f.Args(pgx.NamedArgs{"page_limit": l.limit + 1}))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &Page[T]{Items: []T{}}
	for rows.Next() {
		it, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out.Items) > l.limit {
		out.Items = out.Items[:l.limit]
		out.NextCursor = encode(l.key(out.Items[l.limit-1]))
	}
	return out, nil
}

// keyset is the condition of the rows after key in the list's order:
// (a, b, id) > (@a, @b, @id), or < when descending.
func (l *List[T, K]) keyset(key K) (string, pgx.NamedArgs) {
	values := key.Values()
	if len(values) != len(l.columns) {
		panic("page: a key has " + strconv.Itoa(len(values)) + " values for " + strconv.Itoa(len(l.columns)) + " sort columns")
	}
	names := make([]string, len(values))
	args := pgx.NamedArgs{}
	for i, v := range values {
		name := "page_after_" + strconv.Itoa(i)
		names[i], args[name] = "@"+name, v
	}
	op := " > "
	if l.order == Desc {
		op = " < "
	}
	return "(" + strings.Join(l.columns, ", ") + ")" + op + "(" + strings.Join(names, ", ") + ")", args
}
