// Package ai is retrieval over what a user wrote, transcription of images
// and the registry of chat agents. Notes and uploaded documents are cut into
// chunks (a note's follow its blocks and keep their ids) and embedded by
// River jobs queued in the same transaction as the change; chunks live in
// Postgres beside a full-text vector, and queries fuse a per-user pgvector
// search with full-text search. Models are reached through model.Source
// (the plugin host in a running process, a scripted model in tests); the
// package never imports a plugin.
package ai
