package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Check reads the config the way Load does but stops at nothing it can get
// past: it returns the effective config (defaults, then the file, then the
// environment) with every problem found, environment overrides that do not
// parse included. The error is for a file that cannot be read or parsed at
// all.
func Check(path string, env []string) (*Config, []string, error) {
	cfg := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("config: %s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
		}
	}
	if env == nil {
		env = os.Environ()
	}
	problems := applyEnvProblems(&cfg, env)
	problems = append(problems, cfg.Problems()...)
	return &cfg, problems, nil
}

// Masked is the config as YAML with every secret replaced by "********":
// values under keys that name a secret (secret, password, token, api key,
// private or master key, credentials) and the password of any URL.
func (c *Config) Masked() ([]byte, error) {
	var node yaml.Node
	if err := node.Encode(c); err != nil {
		return nil, err
	}
	maskNode(&node, false, false)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// Mask is what a secret value is shown as.
const Mask = "********"

var secretKeyRE = regexp.MustCompile(`(?i)(secret|passw(or)?d|token$|api[_-]?key|private[_-]?key|master[_-]?key|credential)`)

// kvPasswordRE finds the password of a key=value connection string.
var kvPasswordRE = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// maskNode masks n when secret; names says n's keys name secrets without
// holding them (a plugin's secret_env maps them to variable names).
func maskNode(n *yaml.Node, secret, names bool) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			maskNode(c, secret, false)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			// A secret-looking key hides its value or list of values; a
			// mapping under it (auth.password's hashing parameters) is
			// looked at key by key.
			maskNode(v, !names && v.Kind != yaml.MappingNode && secretKeyRE.MatchString(k.Value), k.Value == "secret_env")
		}
	case yaml.ScalarNode:
		if n.Tag == "!!null" || n.Value == "" {
			return
		}
		if secret {
			n.Value, n.Tag, n.Style = Mask, "!!str", 0
			return
		}
		n.Value = kvPasswordRE.ReplaceAllString(n.Value, "${1}"+Mask)
		if u, err := url.Parse(n.Value); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), Mask)
				n.Value = strings.Replace(u.String(), url.QueryEscape(Mask), Mask, 1)
			}
		}
	}
}
