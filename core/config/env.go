package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// envAliases are the conventional names honoured besides the generated
// CONSILIUM_* ones. When both are set the CONSILIUM_* name wins.
var envAliases = map[string]string{
	"database.url": "DATABASE_URL",
}

// EnvName is the environment variable that overrides a dotted key:
// "http.addr" → CONSILIUM_HTTP_ADDR.
func EnvName(key string) string {
	return "CONSILIUM_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys lists every dotted key with its environment variable, in declaration order.
func Keys() []string {
	var keys []string
	walk(reflect.ValueOf(&Config{}).Elem(), "", func(key string, _ reflect.Value) { keys = append(keys, key) })
	return keys
}

func applyEnv(cfg *Config, env []string) error {
	if errs := applyEnvProblems(cfg, env); len(errs) > 0 {
		return fmt.Errorf("invalid config: %s", strings.Join(errs, "; "))
	}
	return nil
}

// applyEnvProblems applies the overrides it can and lists those it
// cannot.
func applyEnvProblems(cfg *Config, env []string) []string {
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	var errs []string
	walk(reflect.ValueOf(cfg).Elem(), "", func(key string, field reflect.Value) {
		name := EnvName(key)
		val, ok := vars[name]
		if !ok {
			if alias, has := envAliases[key]; has {
				name = alias
				val, ok = vars[alias]
			}
		}
		if !ok {
			return
		}
		if err := setField(field, val); err != nil {
			errs = append(errs, fmt.Sprintf("%s (from %s): %v", key, name, err))
		}
	})
	return errs
}

// walk calls fn for every leaf field with its dotted yaml key.
func walk(v reflect.Value, prefix string, fn func(key string, field reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeFor[time.Time]() {
			walk(fv, key, fn)
			continue
		}
		fn(key, fv)
	}
}

func setField(f reflect.Value, s string) error {
	if f.Type() == reflect.TypeFor[time.Duration]() {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 15m, 1h30m): %q", s)
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not a boolean (true or false): %q", s)
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("not a whole number: %q", s)
		}
		f.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("not a non-negative whole number: %q", s)
		}
		f.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(s, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("not a number: %q", s)
		}
		f.SetFloat(n)
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot be set from the environment")
		}
		var items []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
		f.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}
