// Package app is the composition root: it builds Consilium's service graph
// (database, auth, notes with their task index, tasks, planning, AI) and
// the hooks that tie the services together, once, for every process and
// for the API tests alike. cmd/consilium and api/apitest both call New;
// what differs between them (the River client's queues, a test's own AI
// queue, extra hooks, the model providers) is an Option, never a second
// wiring. Adding a service is a field of App and a line in New; its hooks
// go in hooks.go.
//
// Why here and not in cmd or jobs: the graph is core services only, and
// core must not import jobs (nor api). The one piece that lives in jobs, the
// River client with the workers of these services, is handed in as a
// constructor (Options.Jobs; jobs.Client makes one), and New installs it
// as the database's job inserter. So the graph stays in core, the workers
// stay in jobs, and a caller cannot build one without the other.
//
// The construction cycle: every note save runs the AI service's hook (it
// queues the embedding job in the save's transaction), and the AI service
// needs the notes service (a transcription can be saved as a note). New
// builds the services in dependency order and gives the notes service hooks
// that are methods of App: they look the AI service up when a note is
// saved, which is only after New has returned and every field is set. No
// service is built half-way and finished later.
package app
