package sdk

// NameRule says in words what ValidName accepts, for error messages.
const NameRule = "lower case letters, digits, '-' or '_', starting with a letter, at most 63 characters"

// ValidName reports whether s is a name: of a plugin (its Manifest.Name and
// its entry in the host's config), of a setting it declares
// (ConfigField.Key), of an agent. The host and the SDK check these names
// with this one rule (NameRule): a name is safe in a path, a config key, an
// environment variable suffix and a log line as it is.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
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
