package page

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// Filter is the conditions a query's rows must all meet, with the values
// they name as @name (pgx's named arguments). Values never enter the SQL
// text, and a condition is SQL as Postgres reads it: '?' is jsonb's
// key-exists operator, not a placeholder.
type Filter struct {
	conds []string
	args  pgx.NamedArgs
}

// Where adds a condition and the values it names. Giving one name two
// values is a programming error and panics.
func (f *Filter) Where(cond string, args ...pgx.NamedArgs) {
	f.conds = append(f.conds, cond)
	for _, a := range args {
		for name, v := range a {
			if _, dup := f.args[name]; dup {
				panic("page: the value @" + name + " is given twice")
			}
			if f.args == nil {
				f.args = pgx.NamedArgs{}
			}
			f.args[name] = v
		}
	}
}

// SQL is the conditions joined by AND, to follow a WHERE; TRUE when there
// are none. Each condition is parenthesised, so one with an OR of its own
// keeps its meaning.
func (f *Filter) SQL() string {
	if len(f.conds) == 0 {
		return "TRUE"
	}
	return "(" + strings.Join(f.conds, ") AND (") + ")"
}

// Args returns the values of the conditions and more, the values the rest of
// the query names. They are strict: a query that names a value it is not
// given, or is given one it does not name, fails rather than reading NULL.
// Each call returns a new map, so one filter serves queries running at once.
func (f *Filter) Args(more pgx.NamedArgs) pgx.StrictNamedArgs {
	out := make(pgx.StrictNamedArgs, len(f.args)+len(more))
	for name, v := range f.args {
		out[name] = v
	}
	for name, v := range more {
		if _, dup := out[name]; dup {
			panic("page: the value @" + name + " is given twice")
		}
		out[name] = v
	}
	return out
}
