// Package chat is Consilium's chat: conversations and their messages, the
// runs that answer a user's message (each a River job, so a run lives in a
// worker and not in the socket that asked for it), and the per-conversation
// event log that streams runs to WebSocket and SSE clients on any API
// process through Postgres LISTEN/NOTIFY (Hub).
//
// The agent loop itself is a Runner; until the orchestrator lands, the
// NoModelRunner says plainly that no language model is configured.
package chat
