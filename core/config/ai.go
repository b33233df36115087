package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

// AgentTools are the tools an agent may be given: each acts on the user's
// own data through a core service.
var AgentTools = []string{
	"search",           // retrieve passages from notes and documents, with citations
	"list_tasks",       // read tasks by status, due date, priority, source
	"create_task",      // add a task to a note the user names, or the Inbox
	"update_task",      // change a task's title, description, priority, due date
	"set_task_status",  // change the status of one or more tasks
	"delete_task",      // remove tasks from their notes (destructive)
	"list_goals",       // read goals and their progress
	"create_goal",      // add a goal
	"update_goal",      // change a goal
	"write_reflection", // record a reflection
	"planning_summary", // read the review summary of a week, month or quarter
}

// AllExternalTools, in an agent's tools, gives it every tool the user's
// connected outside apps offer (integration plugins with tools); a
// "<provider>:*" entry (ExternalToolsOf) gives it those of one provider.
const AllExternalTools = "external"

// ExternalToolsOf is the agent tools entry for every tool of provider.
func ExternalToolsOf(provider string) string { return provider + ":*" }

// ExternalProvider is the provider an agent tools entry "<provider>:*"
// names; ok is false for other entries.
func ExternalProvider(tool string) (provider string, ok bool) {
	p, ok := strings.CutSuffix(tool, ":*")
	if !ok || !sdk.ValidName(p) {
		return "", false
	}
	return p, true
}

var (
	pgMemoryRE = regexp.MustCompile(`^[1-9][0-9]*(kB|MB|GB)$`)
)

func (a *AI) problems() []string {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, "ai."+key+": "+fmt.Sprintf(format, args...))
	}
	for key, name := range map[string]string{
		"embedding_provider": a.EmbeddingProvider, "chat_provider": a.ChatProvider,
		"transcription_provider": a.TranscriptionProvider,
	} {
		if name != "" && !sdk.ValidName(name) {
			bad(key, "must be the name of an llm plugin under plugins.items (or local), got %q", name)
		}
	}
	if a.MaxUploadBytes < 1024 || a.MaxUploadBytes > 1<<30 {
		bad("max_upload_bytes", "must be between 1024 and 1073741824, got %d", a.MaxUploadBytes)
	}
	if a.MaxImageBytes < 1024 || a.MaxImageBytes > 100<<20 {
		bad("max_image_bytes", "must be between 1024 and 104857600, got %d", a.MaxImageBytes)
	}
	if a.EfSearch < 10 || a.EfSearch > 1000 {
		bad("ef_search", "must be between 10 and 1000, got %d", a.EfSearch)
	}
	if a.TenantIndexThreshold != 0 && a.TenantIndexThreshold < 1000 {
		bad("tenant_index_threshold", "must be 0 (off) or at least 1000, got %d", a.TenantIndexThreshold)
	}
	if !pgMemoryRE.MatchString(a.IndexBuildMemory) {
		bad("index_build_memory", "must be a PostgreSQL memory size such as 512MB or 2GB, got %q", a.IndexBuildMemory)
	}
	seen := map[string]int{}
	for i, ag := range a.Agents {
		key := fmt.Sprintf("agents[%d]", i)
		if !sdk.ValidName(ag.Name) {
			bad(key+".name", "must be %s, got %q", sdk.NameRule, ag.Name)
		} else if j, dup := seen[ag.Name]; dup {
			bad(key+".name", "%q is already used by agents[%d]", ag.Name, j)
		} else {
			seen[ag.Name] = i
		}
		if ag.Provider != "" && !sdk.ValidName(ag.Provider) {
			bad(key+".provider", "must be the name of an llm plugin, got %q", ag.Provider)
		}
		if len(ag.Description) > 1000 {
			bad(key+".description", "must be at most 1000 characters")
		}
		if len(ag.SystemPrompt) > 64<<10 {
			bad(key+".system_prompt", "must be at most 64 KiB")
		}
		for j, tool := range ag.Tools {
			if _, ext := ExternalProvider(tool); !ext && tool != AllExternalTools && !slices.Contains(AgentTools, tool) {
				bad(fmt.Sprintf("%s.tools[%d]", key, j), "unknown tool %q; known tools: %s, %s (every outside app's tools) or <provider>:* (one integration plugin's tools)",
					tool, strings.Join(AgentTools, ", "), AllExternalTools)
			}
		}
		for j, d := range ag.Delegates {
			k := fmt.Sprintf("%s.delegates[%d]", key, j)
			switch {
			case d == ag.Name:
				bad(k, "an agent cannot delegate to itself")
			case !slices.ContainsFunc(a.Agents, func(o Agent) bool { return o.Name == d }):
				bad(k, "%q is not an agent of ai.agents", d)
			case slices.Index(ag.Delegates, d) < j:
				bad(k, "%q is listed twice", d)
			}
		}
	}
	c := a.Chat
	if c.MaxModelCalls < 1 || c.MaxModelCalls > 100 {
		bad("chat.max_model_calls", "must be between 1 and 100, got %d", c.MaxModelCalls)
	}
	if c.MaxTokens < 1000 || c.MaxTokens > 10_000_000 {
		bad("chat.max_tokens", "must be between 1000 and 10000000, got %d", c.MaxTokens)
	}
	if c.MaxDuration < 5*time.Second {
		bad("chat.max_duration", "must be at least 5s, got %s", c.MaxDuration)
	}
	if c.MaxRepeatedCalls < 1 || c.MaxRepeatedCalls > 20 {
		bad("chat.max_repeated_calls", "must be between 1 and 20, got %d", c.MaxRepeatedCalls)
	}
	if c.HistoryMessages < 0 || c.HistoryMessages > 200 {
		bad("chat.history_messages", "must be between 0 and 200, got %d", c.HistoryMessages)
	}
	return errs
}
