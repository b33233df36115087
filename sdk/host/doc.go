// Package host is the host side of the Consilium plugin protocol: it starts
// nothing itself, but gives a go-plugin client the plugin sets to dispense
// (ClientPluginSets), the clients that call a plugin (LLMClient,
// IntegrationClient), the services a host offers plugins (HostServices), and
// the errors only a host sees (KindMismatchError, VersionMismatchError,
// ErrPluginUnavailable).
//
// Plugin authors do not need this package: package sdk is all a plugin
// needs. The Consilium host (core/plugin) and sdk/plugintest use it.
package host
