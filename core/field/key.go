package field

import "github.com/consilium-hq/consilium/core/apperr"

// MaxKeyLength is the longest key ValidKey accepts.
const MaxKeyLength = 63

// KeyRule says in words what ValidKey accepts, for error messages.
const KeyRule = "must be lower case letters, digits, '-' or '_', starting with a letter, at most 63 characters"

// ValidKey reports whether s is a key: a one-line machine name such as a
// task's source ("note", "clickup"). It is the rule of plugin names
// (sdk.ValidName), so that a plugin's name is always a valid key.
func ValidKey(s string) bool {
	if len(s) == 0 || len(s) > MaxKeyLength || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Key checks s with ValidKey.
func Key(name, s string) error {
	if !ValidKey(s) {
		return apperr.Field(name, KeyRule, s)
	}
	return nil
}
