// Package chat is Consilium's chat: conversations and their messages, the
// runs that answer a user's message (each a River job, so a run lives in a
// worker and not in the socket that asked for it), and the per-conversation
// event log that streams runs to WebSocket and SSE clients on any API
// process through Postgres LISTEN/NOTIFY (Hub).
//
// The agent loop is a Runner: the Orchestrator (orchestrator.go) runs the
// configured agents (agent.go) over the model seam, with the executor
// (executor.go: audit log, idempotent writes, approvals), the turn's
// context (context.go), budgets, offline retrieval answers (offline.go) and
// titles (title.go). NoModelRunner is a minimal Runner for tests.
package chat
