package app

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/integration"
)

// outsideTools gives the chat agents the tools of the user's connected
// outside apps: core/integration lists and runs them, core/chat offers
// them to the agents whose config names them.
type outsideTools struct{ svc *integration.Service }

var _ chat.ExternalTools = outsideTools{}

func (o outsideTools) Tools(ctx context.Context, userID uuid.UUID) ([]chat.ExternalTool, error) {
	list, err := o.svc.Tools(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]chat.ExternalTool, len(list))
	for i, t := range list {
		out[i] = chat.ExternalTool{Provider: t.Provider, Name: t.Name, Description: t.Description, Parameters: t.InputSchema,
			ReadOnly: t.ReadOnly}
	}
	return out, nil
}

func (o outsideTools) ExecuteTool(ctx context.Context, userID uuid.UUID, provider, name string, args json.RawMessage) (json.RawMessage, error) {
	return o.svc.ExecuteTool(ctx, userID, provider, name, args)
}
