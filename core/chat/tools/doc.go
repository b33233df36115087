// Package tools holds the tools chat agents act through, each a chat.Tool
// that calls a core service for call.UserID (ids in arguments are looked up
// under that user only). Arguments are decoded strictly: unknown or
// mistyped arguments are field errors the model can correct; every other
// rule is the core service's.
//
//	search            read         notes and documents, numbered passages with citations;
//	                               document passages are untrusted
//	list_tasks        read         filtered task list (status, dates, overdue, priority, source)
//	create_task       write        a task block in a named note or the Inbox; idempotent by key
//	update_task       write        title, description, priority, due date/time, goal
//	set_task_status   write        one or more tasks; more than BulkThreshold is bulk
//	delete_task       destructive  removes task blocks (with subtasks) from their notes
//	list_goals        read         goals with progress and task counts
//	create_goal       write        idempotent by key
//	update_goal       write        answers the goal before and after (goals keep no versions)
//	write_reflection  write        idempotent by key
//	planning_summary  read         plan.Summarize for a week, month or quarter
//
// Task writes go through the task service, so the note they live in keeps
// a version. A create tool stores the call's idempotency key in the
// metadata of what it makes ({"chat": {"idempotency_key", "run_id", ...}})
// and a retried call answers that instead of making another. Results that
// show text written outside the user's account (document passages, tasks
// from mail or other apps) are Untrusted.
//
// The composition root builds them from its graph:
//
//	tools.New(tools.Services{DB: a.DB, Notes: a.Notes, Tasks: a.Tasks, Plan: a.Plan, AI: a.AI, Users: a.Users})
package tools
