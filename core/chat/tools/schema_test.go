package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/sdk"
)

var effects = map[string]chat.Effect{
	"search": chat.EffectRead, "list_tasks": chat.EffectRead, "create_task": chat.EffectWrite,
	"update_task": chat.EffectWrite, "set_task_status": chat.EffectWrite, "delete_task": chat.EffectDestructive,
	"list_goals": chat.EffectRead, "create_goal": chat.EffectWrite, "update_goal": chat.EffectWrite,
	"write_reflection": chat.EffectWrite, "planning_summary": chat.EffectRead,
}

// TestToolDefinitions: the tools are exactly config.AgentTools, in its
// order, each with a valid name, an effect, a description, and Parameters
// that compile as a draft 2020-12 JSON Schema of a closed object whose
// properties are exactly the arguments the tool decodes.
func TestToolDefinitions(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	var names []string
	for _, tool := range toolsInOrder(b) {
		names = append(names, tool.Name)
	}
	require.Equal(t, config.AgentTools, names)

	user := b.newUser()
	for _, tool := range toolsInOrder(b) {
		t.Run(tool.Name, func(t *testing.T) {
			require.True(t, sdk.ValidName(tool.Name), tool.Name)
			require.Equal(t, effects[tool.Name], tool.Effect)
			require.NotEmpty(t, tool.Description)
			require.NotNil(t, tool.Run)

			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(tool.Parameters))
			require.NoError(t, err)
			c := jsonschema.NewCompiler()
			c.DefaultDraft(jsonschema.Draft2020)
			c.AssertFormat()
			require.NoError(t, c.AddResource("mem://"+tool.Name+".json", doc))
			sch, err := c.Compile("mem://" + tool.Name + ".json")
			require.NoError(t, err)

			var s struct {
				Type                 string                     `json:"type"`
				AdditionalProperties *bool                      `json:"additionalProperties"`
				Properties           map[string]json.RawMessage `json:"properties"`
				Required             []string                   `json:"required"`
			}
			require.NoError(t, json.Unmarshal(tool.Parameters, &s))
			require.Equal(t, "object", s.Type)
			require.NotNil(t, s.AdditionalProperties)
			require.False(t, *s.AdditionalProperties)
			var props []string
			for name, raw := range s.Properties {
				props = append(props, name)
				var p struct {
					Description string `json:"description"`
				}
				require.NoError(t, json.Unmarshal(raw, &p))
				require.NotEmpty(t, p.Description, "%s.%s has a description for the model", tool.Name, name)
			}
			slices.Sort(props)
			for _, r := range s.Required {
				require.Contains(t, props, r)
			}

			// The schema refuses what the decoder refuses: an unknown
			// argument. And the decoder names exactly the schema's
			// properties as the tool's arguments.
			require.Error(t, sch.Validate(map[string]any{"no_such_argument": 1.0}))
			_, err = b.run(user, tool.Name, `{"no_such_argument": 1}`)
			e := requireFields(t, err, "no_such_argument")
			_, list, ok := strings.Cut(e.Fields[0].Message, "its arguments are ")
			require.True(t, ok, e.Fields[0].Message)
			args := strings.Split(list, ", ")
			slices.Sort(args)
			require.Equal(t, props, args, "schema properties and decoded arguments")
		})
	}
}

func toolsInOrder(b *testBundle) []chat.Tool {
	var out []chat.Tool
	for _, name := range config.AgentTools {
		if tool, ok := b.tools[name]; ok {
			out = append(out, tool)
		}
	}
	return out
}

// TestArgumentDecoding: arguments that are not an object, not JSON, or
// carry a value of the wrong JSON type are field errors naming the
// argument, for every tool, and nothing changes.
func TestArgumentDecoding(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	user := b.newUser()
	before := b.counts(user)
	wrongType := map[string]string{
		"search":           `{"query": 42}`,
		"list_tasks":       `{"status": "completed"}`,
		"create_task":      `{"title": ["Buy milk"]}`,
		"update_task":      `{"task_id": "` + uuid.NewString() + `", "priority": 1}`,
		"set_task_status":  `{"task_ids": "` + uuid.NewString() + `", "status": "completed"}`,
		"delete_task":      `{"task_ids": [1]}`,
		"list_goals":       `{"limit": 2.5}`,
		"create_goal":      `{"title": "Run", "progress": "half"}`,
		"update_goal":      `{"goal_id": "` + uuid.NewString() + `", "due_date": false}`,
		"write_reflection": `{"content": "Good week", "reflection_type": "weekly", "period_start": 20260302}`,
		"planning_summary": `{"items": "20"}`,
	}
	wrongField := map[string]string{"search": "query", "list_tasks": "status", "create_task": "title",
		"update_task": "priority", "set_task_status": "task_ids", "delete_task": "task_ids", "list_goals": "limit",
		"create_goal": "progress", "update_goal": "due_date", "write_reflection": "period_start", "planning_summary": "items"}
	for name := range b.tools {
		t.Run(name, func(t *testing.T) {
			for _, args := range []string{`[]`, `"x"`, `42`, `{"a":`, `{"title": "x"} trailing`} {
				_, err := b.run(user, name, args)
				requireFields(t, err, "")
			}
			_, err := b.run(user, name, wrongType[name])
			e := requireFields(t, err, wrongField[name])
			require.True(t, strings.HasPrefix(e.Fields[0].Message, "must be "), e.Fields[0].Message)

			// Several problems are named together, in order.
			_, err = b.run(user, name, `{"zz": 1, "aa": 2}`)
			requireFields(t, err, "aa", "zz")
		})
	}
	require.Equal(t, before, b.counts(user), "refused calls change nothing")

	var e *apperr.Error
	_, err := b.run(user, "update_task", `{"task_id": "x", "due_date": 5}`)
	require.True(t, errors.As(err, &e))
	require.Equal(t, "must be a string or null", e.Fields[0].Message)
	_, err = b.run(user, "set_task_status", `{"task_ids": [1], "status": "completed"}`)
	require.True(t, errors.As(err, &e))
	require.Equal(t, "must be a list of strings", e.Fields[0].Message)

	// null and an absent object are no arguments: list_tasks answers.
	for _, args := range []string{``, `null`, `{}`, ` {"status": null} `} {
		_, err := b.run(user, "list_tasks", args)
		require.NoError(t, err, args)
	}
	_ = context.Background()
}
