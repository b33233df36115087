// Package sdk is everything a Consilium plugin needs: the Go interfaces of the
// two plugin kinds (LLM for model providers, Integration for outside systems),
// the request and response types, typed errors that survive the wire, and
// Serve, the one call in a plugin's main.
//
// Plugins run as separate processes and talk to the host over gRPC through
// hashicorp/go-plugin. The host sends settings and credentials with every
// call (see Connection); a plugin never reads the host's environment or
// database. Plugins may log and report progress back to the host with
// Logger and ReportProgress.
//
// String values with a fixed set of meanings are typed (Role, TaskStatus,
// PushAction, TaskField, RecordKind); on the wire they are the same strings.
//
// The host side of the protocol (the clients that call a plugin, the plugin
// sets a host dispenses, the services it offers plugins) is package sdk/host;
// plugin authors do not need it. The sub-package plugintest runs a plugin in
// a test, with a fake host and a conformance suite; examples/hello is a
// complete integration plugin.
package sdk
