package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/plugin"
)

// PluginStates reports the plugins of this process's plugin host;
// *plugin.Host implements it.
type PluginStates interface {
	States() []plugin.PluginState
}

// AdminPlugin is one configured plugin as the admin API shows it.
type AdminPlugin struct {
	Name            string     `json:"name" example:"gmail" doc:"Name the plugin is configured under."`
	Kind            string     `json:"kind" enum:"llm,integration"`
	Path            string     `json:"path" example:"/opt/consilium/plugins/gmail" doc:"Path of the plugin binary."`
	Enabled         bool       `json:"enabled"`
	State           string     `json:"state" enum:"disabled,starting,running,restarting,failed,stopped" doc:"restarting and failed plugins are tried again after a backoff; see next_attempt_at."`
	PID             int        `json:"pid,omitempty" doc:"Process id while running."`
	DisplayName     string     `json:"display_name,omitempty" example:"Gmail"`
	Version         string     `json:"version,omitempty" example:"1.0.0" doc:"The plugin's own version, from its manifest."`
	ProtocolVersion int        `json:"protocol_version,omitempty" example:"1" doc:"Plugin protocol version negotiated at the handshake."`
	SDKVersion      string     `json:"sdk_version,omitempty" doc:"Version of the SDK the plugin was built with."`
	AuthType        string     `json:"auth_type,omitempty" enum:"none,api_key,oauth2,link" doc:"How users connect (integrations)."`
	Capabilities    []string   `json:"capabilities" example:"[\"tasks.pull\",\"tasks.push\"]"`
	Methods         []string   `json:"methods" doc:"Calls the plugin implements."`
	Models          []string   `json:"models,omitempty" doc:"Model ids (llm plugins)."`
	Restarts        int        `json:"restarts" doc:"Restarts after crashes since the process started."`
	LastError       string     `json:"last_error,omitempty" doc:"Why the plugin last failed to start or stopped."`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	NextAttemptAt   *time.Time `json:"next_attempt_at,omitempty"`
}

// AdminPluginList is every configured plugin.
type AdminPluginList struct {
	Plugins []AdminPlugin `json:"plugins" nullable:"false"`
}

type adminPluginsOutput struct {
	Body AdminPluginList
}

func toAdminPlugin(s plugin.PluginState) AdminPlugin {
	out := AdminPlugin{
		Name: s.Name, Kind: string(s.Kind), Path: s.Path, Enabled: s.Enabled, State: string(s.State), PID: s.PID,
		DisplayName: s.DisplayName, Version: s.Version, ProtocolVersion: s.ProtocolVersion, SDKVersion: s.SDKVersion,
		Capabilities: []string{}, Methods: []string{}, Restarts: s.Restarts, LastError: s.LastError,
	}
	for _, c := range s.Capabilities {
		out.Capabilities = append(out.Capabilities, string(c))
	}
	out.Methods = append(out.Methods, s.Methods...)
	if m := s.Manifest; m != nil {
		if s.Kind == "integration" {
			out.AuthType = string(m.Auth.Type)
			if out.AuthType == "" {
				out.AuthType = "none"
			}
		}
		for _, md := range m.Models {
			out.Models = append(out.Models, md.ID)
		}
	}
	if !s.StartedAt.IsZero() && s.State == plugin.StateRunning {
		t := s.StartedAt
		out.StartedAt = &t
	}
	if !s.NextAttemptAt.IsZero() {
		t := s.NextAttemptAt
		out.NextAttemptAt = &t
	}
	return out
}

// registerAdminPlugins serves the plugin host's state to superusers. plugins
// may be nil when this process runs no plugin host; the list is then empty.
func registerAdminPlugins(authed huma.API, plugins PluginStates) {
	huma.Register(authed, huma.Operation{
		OperationID: "list-plugins", Method: http.MethodGet, Path: "/admin/plugins",
		Summary: "Configured plugins and their state", Tags: []string{"admin"},
		Description: "Every plugin declared in the config, with what the plugin host of this process knows about it: " +
			"whether it runs, its version and capabilities, and why it last failed. Superusers only. " +
			"A process that runs no plugin host (an API node without workers) answers an empty list.",
		Errors: []int{http.StatusForbidden},
	}, func(ctx context.Context, _ *struct{}) (*adminPluginsOutput, error) {
		if p := principal(ctx); p == nil || !p.User.IsSuperuser {
			return nil, apperr.New(apperr.Forbidden, "only superusers may see plugins")
		}
		out := &adminPluginsOutput{}
		out.Body.Plugins = []AdminPlugin{}
		if plugins != nil {
			for _, s := range plugins.States() {
				out.Body.Plugins = append(out.Body.Plugins, toAdminPlugin(s))
			}
		}
		return out, nil
	})
}
