package ai

import (
	"slices"

	"github.com/consilium-hq/consilium/core/config"
)

// DefaultAgentName is the agent configured when ai.agents is empty.
const DefaultAgentName = "assistant"

const defaultSystemPrompt = "You are Consilium's assistant. You help the user plan: you read and change their notes, " +
	"tasks, goals and reflections through your tools, and you answer from their own notes and documents, " +
	"citing the passages you use. Be brief and concrete; ask before changing anything the user did not ask you to change."

// Agent is a configured chat agent.
type Agent struct {
	Name        string
	Description string
	// Provider is the llm plugin it talks through; Model the model (empty:
	// the provider's default).
	Provider     string
	Model        string
	Tools        []string
	SystemPrompt string
	// Available reports whether the provider's plugin is running (set by
	// Agents).
	Available bool
}

func buildAgents(cfg config.AI, p Providers) ([]Agent, error) {
	if len(cfg.Agents) == 0 {
		return []Agent{{
			Name:         DefaultAgentName,
			Description:  "A general assistant for your notes, tasks, goals and reflections, answering from what you wrote.",
			Provider:     p.Chat,
			Model:        cfg.ChatModel,
			Tools:        slices.Clone(config.AgentTools),
			SystemPrompt: defaultSystemPrompt,
		}}, nil
	}
	out := make([]Agent, 0, len(cfg.Agents))
	for _, a := range cfg.Agents {
		ag := Agent{Name: a.Name, Description: a.Description, Provider: a.Provider, Model: a.Model,
			Tools: slices.Clone(a.Tools), SystemPrompt: a.SystemPrompt}
		if ag.Provider == "" {
			ag.Provider = p.Chat
			if ag.Model == "" {
				ag.Model = cfg.ChatModel
			}
		}
		if ag.Tools == nil {
			ag.Tools = []string{}
		}
		if ag.SystemPrompt == "" {
			ag.SystemPrompt = defaultSystemPrompt
		}
		out = append(out, ag)
	}
	return out, nil
}

// Agents lists the configured agents in config order, each saying whether
// its provider is running now.
func (s *Service) Agents() []Agent {
	out := slices.Clone(s.agents)
	for i := range out {
		out[i].Tools = slices.Clone(out[i].Tools)
		if s.models == nil || out[i].Provider == "" {
			continue
		}
		if c, err := s.models.Model(out[i].Provider); err == nil {
			out[i].Available = c.Available()
		}
	}
	return out
}

// Agent returns the named agent.
func (s *Service) Agent(name string) (Agent, bool) {
	for _, a := range s.agents {
		if a.Name == name {
			return a, true
		}
	}
	return Agent{}, false
}
