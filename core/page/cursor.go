package page

import (
	"encoding/base64"
	"encoding/json"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/field"
)

const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// checkLimit checks a requested page size; 0 means the default.
func checkLimit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultLimit, nil
	case n < 1 || n > MaxLimit:
		return 0, apperr.Field("limit", "must be between 1 and 200", n)
	}
	return n, nil
}

// encode makes an opaque cursor from a sort key.
func encode(key any) string {
	raw, _ := json.Marshal(key)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// decode reads a cursor made by encode into key; an empty cursor leaves key
// untouched and returns false.
func decode(cursor string, key any) (bool, error) {
	if cursor == "" {
		return false, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil {
		// A forged cursor must not carry what Postgres cannot read (NUL).
		_, err = field.Object("cursor", raw)
	}
	if err == nil {
		err = json.Unmarshal(raw, key)
	}
	if err != nil {
		return false, errCursor
	}
	return true, nil
}

// errCursor answers a cursor that no list of this API made.
var errCursor error = apperr.Field("cursor", "is not a cursor this API returned", nil)
