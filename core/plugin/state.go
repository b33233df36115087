package plugin

import (
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

// State is where a plugin is in its life.
type State string

const (
	// StateDisabled: declared in config but not enabled.
	StateDisabled State = "disabled"
	// StateStarting: the first start is in progress (process, handshake,
	// Describe). Later attempts keep showing restarting or failed.
	StateStarting State = "starting"
	// StateRunning: calls go through.
	StateRunning State = "running"
	// StateRestarting: the process exited; it is being restarted, after a
	// backoff.
	StateRestarting State = "restarting"
	// StateFailed: the last start failed (see LastError); it is being tried
	// again, after a backoff.
	StateFailed State = "failed"
	// StateStopped: the host stopped it.
	StateStopped State = "stopped"
)

// PluginState is what the host knows about one configured plugin.
type PluginState struct {
	Name    string   `json:"name"`
	Kind    sdk.Kind `json:"kind"`
	Path    string   `json:"path"`
	Enabled bool     `json:"enabled"`
	State   State    `json:"state"`
	// PID of the running process, 0 when none.
	PID int `json:"pid,omitempty"`
	// From the plugin's manifest, as of its last successful start.
	DisplayName     string           `json:"display_name,omitempty"`
	Version         string           `json:"version,omitempty"`
	ProtocolVersion int              `json:"protocol_version,omitempty"`
	SDKVersion      string           `json:"sdk_version,omitempty"`
	Capabilities    []sdk.Capability `json:"capabilities,omitempty"`
	Methods         []string         `json:"methods,omitempty"`
	// Restarts counts restarts after crashes since the host started.
	Restarts  int    `json:"restarts"`
	LastError string `json:"last_error,omitempty"`
	// StartedAt is when the running process started.
	StartedAt time.Time `json:"started_at,omitzero"`
	// NextAttemptAt is when a restarting or failed plugin is tried again.
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	// Manifest is the whole manifest, nil before the first successful start.
	Manifest *sdk.Manifest `json:"-"`
}
