// Package plan owns planning: goals in a hierarchy whose progress rolls up
// from the tasks that serve them, reflections on periods and goals, and the
// review summary of a week, month or quarter.
package plan
