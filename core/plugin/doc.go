// Package plugin is the plugin host: it starts the model-provider and
// integration plugins declared in config as go-plugin subprocesses, restarts
// them with backoff when they crash, and puts every call through a deadline,
// a concurrency bound, the plugin's declared rate limits and a fail-fast check
// while the plugin is down. Callers get typed *sdk.Error values back and turn
// them into job outcomes with JobOutcome.
package plugin
