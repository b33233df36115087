package chat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/config"
)

// ExternalTool is a tool an outside app offers the user through one of
// their connections (an integration plugin's ListTools).
type ExternalTool struct {
	// Provider is the integration plugin; Name the tool as it knows it.
	Provider    string
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments, unchecked.
	Parameters json.RawMessage
	// ReadOnly: an admin marked the tool read-only (the plugin item's
	// read_only_tools); it runs without asking the user.
	ReadOnly bool
}

// ExternalTools are the tools of the user's connected outside apps
// (core/integration's service, wired by the composition root).
type ExternalTools interface {
	// Tools lists the user's outside tools; a provider that cannot answer
	// is left out.
	Tools(ctx context.Context, userID uuid.UUID) ([]ExternalTool, error)
	// ExecuteTool runs one for the user and answers its JSON output.
	// Failures are *apperr.Error whose message the model may read.
	ExecuteTool(ctx context.Context, userID uuid.UUID, provider, name string, args json.RawMessage) (json.RawMessage, error)
}

// Bounds of outside tools as the model sees them.
const (
	// MaxExternalResult bounds the outside output of one call given to the
	// model (bytes); more is cut and the result says so.
	MaxExternalResult = 16 << 10
	// maxExternalSchema bounds a tool's argument schema (bytes); a tool
	// with a larger one is left out.
	maxExternalSchema = 32 << 10
	// maxExternalDescription bounds a tool's description (characters).
	maxExternalDescription = 1024
	// maxExternalTools bounds the outside tools offered to one agent.
	maxExternalTools = 128
)

// toolNameRE is the rule model providers set for tool names.
var toolNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// wantsExternal reports whether the agent's config gives it outside tools
// (config.AllExternalTools or "<provider>:*").
func wantsExternal(agent Agent) bool {
	return slices.ContainsFunc(agent.Tools, func(s string) bool {
		_, ok := config.ExternalProvider(s)
		return ok || s == config.AllExternalTools
	})
}

// externalAllowed reports whether the agent may call the outside tools of
// provider.
func externalAllowed(agent Agent, provider string) bool {
	return contains(agent.Tools, config.AllExternalTools) || contains(agent.Tools, config.ExternalToolsOf(provider))
}

// externalTools are the user's outside tools for the turn, by the name the
// model calls them: listed once per turn (attempt), when an agent that
// may use them first needs them. Listing failures leave them out; the run
// goes on with its own tools.
func (o *Orchestrator) externalTools(ctx context.Context, t *Turn, st *turnState) map[string]Tool {
	if o.external == nil || st.extLoaded {
		return st.ext
	}
	st.extLoaded = true
	list, err := o.external.Tools(ctx, t.Run.UserID)
	if err != nil {
		o.logger.WarnContext(ctx, "chat: outside tools left out", "run_id", t.Run.ID, "error", err)
		return nil
	}
	st.ext = o.namedExternal(ctx, list)
	return st.ext
}

// namedExternal turns outside tools into chat tools named
// <provider>_<tool> by the model's rule (^[a-zA-Z0-9_-]{1,64}$): other
// characters become _, long names are cut, a name that would read as a
// delegation (delegate_to_...) gets ext_ in front, and names that would be
// equal to another's (or to one of our tools) get a short hash of provider
// and tool, the same for the same pair whatever else is listed. A tool
// whose schema is not a JSON object schema is left out and logged.
func (o *Orchestrator) namedExternal(ctx context.Context, list []ExternalTool) map[string]Tool {
	sort.Slice(list, func(i, j int) bool {
		if list[i].Provider != list[j].Provider {
			return list[i].Provider < list[j].Provider
		}
		return list[i].Name < list[j].Name
	})
	type cand struct {
		tool   ExternalTool
		schema json.RawMessage
		base   string
	}
	var cands []cand
	count := map[string]int{}
	for _, et := range list {
		if et.Name == "" || len(et.Name) > 256 {
			o.logger.WarnContext(ctx, "chat: outside tool left out: bad name", "provider", et.Provider, "tool", truncate(et.Name, 80))
			continue
		}
		schema, err := objectSchema(et.Parameters)
		if err != nil {
			o.logger.WarnContext(ctx, "chat: outside tool left out: bad argument schema", "provider", et.Provider, "tool", et.Name, "error", err)
			continue
		}
		base := sanitizeToolName(et.Provider + "_" + et.Name)
		if strings.HasPrefix(base, delegatePrefix) {
			base = sanitizeToolName("ext_" + base)
		}
		cands = append(cands, cand{et, schema, base})
		count[base]++
	}
	out := map[string]Tool{}
	for _, c := range cands {
		name := c.base
		if count[name] > 1 || o.tools[name].Name != "" {
			sum := sha256.Sum256([]byte(c.tool.Provider + "\x00" + c.tool.Name))
			suffix := "_" + hex.EncodeToString(sum[:4])
			name = name[:min(len(name), 64-len(suffix))] + suffix
		}
		if _, dup := out[name]; dup || o.tools[name].Name != "" || !toolNameRE.MatchString(name) {
			o.logger.WarnContext(ctx, "chat: outside tool left out: no unique name", "provider", c.tool.Provider, "tool", c.tool.Name)
			continue
		}
		out[name] = o.externalTool(name, c.tool, c.schema)
	}
	return out
}

// externalTool is the chat tool that runs et: effect external (it waits
// for the user's approval unless marked read-only), its result the
// outside output wrapped as untrusted data.
func (o *Orchestrator) externalTool(name string, et ExternalTool, schema json.RawMessage) Tool {
	desc := strings.TrimSpace(et.Description)
	if desc == "" {
		desc = et.Name
	}
	desc = "[" + et.Provider + ", outside app] " + truncate(desc, maxExternalDescription)
	ext := o.external
	return Tool{Name: name, Description: desc, Parameters: schema, Effect: EffectExternal, Provider: et.Provider, ReadOnly: et.ReadOnly,
		Run: func(ctx context.Context, call *ToolCall, args json.RawMessage) (*ToolResult, error) {
			out, err := ext.ExecuteTool(ctx, call.UserID, et.Provider, et.Name, args)
			if err != nil {
				return nil, err
			}
			content, cut := untrustedOutput(et.Provider, et.Name, out)
			summary := fmt.Sprintf("%s ran %s (%d bytes of outside data)", et.Provider, et.Name, len(out))
			if cut {
				summary += ", cut for the model"
			}
			return &ToolResult{Content: content, Summary: summary, Untrusted: true}, nil
		}}
}

// untrustedOutput wraps an outside tool's output for the model:
// {"source", "tool", "untrusted_output", "truncated"?}, the output as
// JSON when it is JSON (else as a string), at most MaxExternalResult
// bytes of it (cut, it becomes a string and truncated is true).
func untrustedOutput(provider, tool string, out json.RawMessage) (string, bool) {
	out = bytes.TrimSpace(out)
	if len(out) == 0 {
		out = json.RawMessage(`null`)
	}
	cut := false
	if !json.Valid(out) || len(out) > MaxExternalResult {
		s := strings.ToValidUTF8(string(out), "\uFFFD")
		if len(s) > MaxExternalResult {
			n := MaxExternalResult
			for n > 0 && !utf8.RuneStart(s[n]) {
				n--
			}
			s, cut = s[:n], true
		}
		out, _ = json.Marshal(s)
	}
	b, _ := json.Marshal(struct {
		Source    string          `json:"source"`
		Tool      string          `json:"tool"`
		Output    json.RawMessage `json:"untrusted_output"`
		Truncated bool            `json:"truncated,omitempty"`
	}{provider, tool, out, cut})
	return string(b), cut
}

// sanitizeToolName maps s to the model's tool-name rule: characters
// outside [a-zA-Z0-9_-] become _, at most 64 of them.
func sanitizeToolName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() == 64 {
			break
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// objectSchema checks that raw is a JSON Schema of an object (type
// "object", properties an object when given) and answers it compacted;
// no schema at all is an object without properties.
func objectSchema(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage(`{"type":"object","properties":{}}`), nil
	}
	if len(raw) > maxExternalSchema {
		return nil, fmt.Errorf("the schema has %d bytes, more than %d", len(raw), maxExternalSchema)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, fmt.Errorf("the schema is not a JSON object")
	}
	if m["type"] != "object" {
		return nil, fmt.Errorf("the schema's type is %v, not \"object\"", m["type"])
	}
	if p, ok := m["properties"]; ok {
		if _, isObj := p.(map[string]any); !isObj {
			return nil, fmt.Errorf("the schema's properties is not an object")
		}
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, fmt.Errorf("the schema is not valid JSON")
	}
	return b.Bytes(), nil
}
