package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/consilium-hq/consilium/sdk"
)

// IntegrationClient is what the checks call: the host side of an
// integration plugin, such as *host.IntegrationClient (package sdk/host).
type IntegrationClient interface {
	sdk.Integration
	sdk.Syncer
	sdk.TaskPusher
	sdk.ToolProvider
}

var toolNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// IntegrationChecks returns the checks for an integration plugin.
func IntegrationChecks(c IntegrationClient, o Options) []Check {
	var m *sdk.Manifest
	call := func(ctx context.Context) (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, o.timeout())
	}
	needManifest := func() error {
		if m == nil {
			return Skip("Describe failed")
		}
		return nil
	}
	return []Check{
		{"describe", func(ctx context.Context) (err error) {
			m, err = describe(ctx, &o, c.Describe)
			if err != nil && m != nil && m.ProtocolVersion == 0 {
				m = nil
			}
			return err
		}},
		{"capabilities_match_methods", func(ctx context.Context) error {
			if err := needManifest(); err != nil {
				return err
			}
			var errs []error
			need := func(capability sdk.Capability, methods ...string) {
				if !m.Has(capability) {
					return
				}
				for _, meth := range methods {
					if !m.Implements(meth) {
						errs = append(errs, fmt.Errorf("capability %s is declared but %s is not implemented", capability, meth))
					}
				}
			}
			need(sdk.CapTasksPull, "Sync")
			need(sdk.CapEmailRead, "Sync")
			need(sdk.CapTasksPush, "PushTask")
			need(sdk.CapTools, "ListTools", "ExecuteTool")
			if m.Auth.Type == sdk.AuthLink {
				for _, meth := range []string{"BeginLink", "CheckLink"} {
					if !m.Implements(meth) {
						errs = append(errs, fmt.Errorf("auth type link is declared but %s is not implemented", meth))
					}
				}
			}
			for _, c := range m.Capabilities {
				switch c {
				case sdk.CapTasksPull, sdk.CapTasksPush, sdk.CapEmailRead, sdk.CapTools:
				default:
					errs = append(errs, fmt.Errorf("capability %s is not one an integration has", c))
				}
			}
			return errors.Join(errs...)
		}},
		{"unimplemented_methods_are_typed", func(ctx context.Context) error {
			if err := needManifest(); err != nil {
				return err
			}
			ctx, cancel := call(ctx)
			defer cancel()
			switch {
			case !m.Implements("Sync"):
				_, err := c.Sync(ctx, &sdk.SyncRequest{Connection: o.Connection})
				return requireCode("Sync on a plugin without Sync", err, sdk.CodeUnimplemented)
			case !m.Implements("PushTask"):
				_, err := c.PushTask(ctx, &sdk.PushTaskRequest{Connection: o.Connection, Action: sdk.PushCreate, Task: sdk.Task{Title: "x"}})
				return requireCode("PushTask on a plugin without PushTask", err, sdk.CodeUnimplemented)
			case !m.Implements("ExecuteTool"):
				_, err := c.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Connection: o.Connection, Name: "x"})
				return requireCode("ExecuteTool on a plugin without tools", err, sdk.CodeUnimplemented)
			}
			return Skip("the plugin implements every method")
		}},
		{"sync_pages_and_cursors", func(ctx context.Context) error {
			if err := needManifest(); err != nil {
				return err
			}
			if !m.Implements("Sync") {
				return Skip("Sync is not implemented")
			}
			maxPages := o.MaxSyncPages
			if maxPages <= 0 {
				maxPages = 1000
			}
			seen := map[string]bool{}
			cursor := ""
			for page := 1; ; page++ {
				if page > maxPages {
					return fmt.Errorf("full sync did not finish within %d pages (HasMore stays true)", maxPages)
				}
				cctx, cancel := call(ctx)
				resp, err := c.Sync(cctx, &sdk.SyncRequest{Connection: o.Connection, Cursor: cursor})
				cancel()
				if err != nil {
					return fmt.Errorf("full sync page %d: %w", page, err)
				}
				if resp.NextCursor == "" {
					return fmt.Errorf("full sync page %d: NextCursor is empty", page)
				}
				if page > 1 && resp.Reset {
					return fmt.Errorf("full sync page %d: Reset is set on a page that continues a sync", page)
				}
				for i, r := range resp.Upserts {
					if r.ExternalID == "" || r.Kind == "" {
						return fmt.Errorf("full sync page %d: upsert %d has no ExternalID or Kind", page, i)
					}
					if seen[r.ExternalID] {
						return fmt.Errorf("full sync page %d: %q appears twice in one full sync", page, r.ExternalID)
					}
					seen[r.ExternalID] = true
					if r.Kind == sdk.RecordTask && r.Task == nil {
						return fmt.Errorf("full sync page %d: task %q has no Task", page, r.ExternalID)
					}
					if r.Kind == sdk.RecordEmail && r.Email == nil {
						return fmt.Errorf("full sync page %d: email %q has no Email", page, r.ExternalID)
					}
					if len(r.Data) > 0 && !json.Valid(r.Data) {
						return fmt.Errorf("full sync page %d: %q has Data that is not JSON", page, r.ExternalID)
					}
				}
				cursor = resp.NextCursor
				if !resp.HasMore {
					break
				}
			}
			cctx, cancel := call(ctx)
			defer cancel()
			resp, err := c.Sync(cctx, &sdk.SyncRequest{Connection: o.Connection, Cursor: cursor})
			if err != nil {
				return fmt.Errorf("incremental sync from the final cursor: %w", err)
			}
			if resp.Reset {
				return errors.New("incremental sync from a fresh cursor asked for a full resync (Reset)")
			}
			if resp.NextCursor == "" {
				return errors.New("incremental sync: NextCursor is empty")
			}
			return nil
		}},
		{"sync_unknown_cursor", func(ctx context.Context) error {
			if err := needManifest(); err != nil {
				return err
			}
			if !m.Implements("Sync") {
				return Skip("Sync is not implemented")
			}
			ctx, cancel := call(ctx)
			defer cancel()
			resp, err := c.Sync(ctx, &sdk.SyncRequest{Connection: o.Connection, Cursor: "conformance:not-a-cursor"})
			if err != nil {
				return requireTyped("Sync from an unknown cursor", err)
			}
			if !resp.Reset {
				return errors.New("Sync from an unknown cursor neither failed nor started a full resync (Reset)")
			}
			return nil
		}},
		{"push_missing_task_is_not_found", func(ctx context.Context) error {
			if err := needManifest(); err != nil {
				return err
			}
			if !m.Implements("PushTask") {
				return Skip("PushTask is not implemented")
			}
			if o.SkipPushTask {
				return Skip("Options.SkipPushTask")
			}
			ctx, cancel := call(ctx)
			defer cancel()
			_, err := c.PushTask(ctx, &sdk.PushTaskRequest{Connection: o.Connection, Action: sdk.PushUpdate,
				ExternalID: "conformance-missing-task", Task: sdk.Task{Title: "conformance", Status: sdk.TaskOpen}})
			return requireCode("PushTask update of a missing task", err, sdk.CodeNotFound)
		}},
		{"tools", func(ctx context.Context) error {
			if err := needManifest(); err != nil {
				return err
			}
			if !m.Implements("ListTools") {
				return Skip("tools are not implemented")
			}
			ctx, cancel := call(ctx)
			defer cancel()
			resp, err := c.ListTools(ctx, &sdk.ListToolsRequest{Connection: o.Connection})
			if err != nil {
				return fmt.Errorf("ListTools: %w", err)
			}
			names := map[string]bool{}
			for i, t := range resp.Tools {
				if !toolNameRE.MatchString(t.Name) {
					return fmt.Errorf("tool %d: name %q must match %s", i, t.Name, toolNameRE)
				}
				if names[t.Name] {
					return fmt.Errorf("tool %q is listed twice", t.Name)
				}
				names[t.Name] = true
				if len(t.InputSchema) > 0 && !json.Valid(t.InputSchema) {
					return fmt.Errorf("tool %q: InputSchema is not JSON", t.Name)
				}
			}
			_, err = c.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Connection: o.Connection, Name: "conformance-no-such-tool", Arguments: json.RawMessage(`{}`)})
			return requireCode("ExecuteTool of an unknown tool", err, sdk.CodeNotFound)
		}},
		{"cancellation", func(ctx context.Context) error {
			return checkCancellation(ctx, &o, func(ctx context.Context) error {
				_, err := c.Describe(ctx, &sdk.DescribeRequest{Connection: o.Connection})
				return err
			})
		}},
	}
}
