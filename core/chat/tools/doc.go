// Package tools holds the tools chat agents act through: search over the
// user's notes and documents, tasks, goals, reflections and the planning
// summary, each a chat.Tool that calls a core service for call.UserID.
// Arguments are decoded strictly (unknown or mistyped fields are field
// errors the model can correct); every other rule is the core service's.
package tools
