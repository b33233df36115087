package field

import (
	"strings"
	"time"

	"github.com/consilium-hq/consilium/core/apperr"
)

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// Weekday reads an English weekday name, in any case ("monday", "Sunday").
func Weekday(name, s string) (time.Weekday, error) {
	w, ok := weekdays[strings.ToLower(s)]
	if !ok {
		return 0, apperr.Field(name, "must be a weekday name: monday, tuesday, wednesday, thursday, friday, saturday or sunday", shortValue(s))
	}
	return w, nil
}
