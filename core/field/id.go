package field

import (
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
)

// ID reads an id: a UUID written as 36 characters, in either case.
func ID(name, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, apperr.Field(name, "must be an id (a UUID such as 1b4e28ba-2fa1-11d2-883f-0016d3cca427)", shortValue(s))
	}
	return id, nil
}
