package field

import (
	"time"

	"github.com/consilium-hq/consilium/core/apperr"
)

// TimeZone checks an IANA time zone name such as Europe/Zurich or UTC and
// returns its location. time.LoadLocation alone is not the rule: it accepts
// "" and "Local" (the server's zone) and reads paths, so the name's shape is
// checked first: letters, digits and _ + - in parts separated by single
// slashes, starting with a letter, at most 64 characters.
func TimeZone(name, s string) (*time.Location, error) {
	bad := func() (*time.Location, error) {
		return nil, apperr.Field(name, "must be an IANA time zone name such as Europe/Zurich or UTC", shortValue(s))
	}
	if !zoneShape(s) || s == "Local" {
		return bad()
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return bad()
	}
	return loc, nil
}

func zoneShape(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	partStart := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' || c == '_' || c == '+' || c == '-':
			if partStart {
				return false
			}
		case c == '/':
			if partStart {
				return false
			}
			partStart = true
			continue
		default:
			return false
		}
		partStart = false
	}
	return !partStart
}

// shortValue is a refused value worth echoing: short, valid text.
func shortValue(s string) any {
	if len(s) > 100 || Text("", s, 0) != nil {
		return nil
	}
	return s
}
