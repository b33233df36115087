package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/consilium-hq/consilium/core/config"
)

// devClusterFile is where scripts/devdb.sh writes the settings of a
// checkout's development cluster (make run, make db): its URL and the
// development JWT secret, as DATABASE_URL and CONSILIUM_AUTH_JWT_SECRET
// lines, relative to the checkout.
const devClusterFile = ".data/dev.env"

// devClusterKeys are the only settings read from that file: it points the
// command at a database, and nothing else (no plugin to run) comes from a
// file that merely happens to be in the working directory.
var devClusterKeys = []string{"DATABASE_URL", config.EnvName("auth.jwt_secret")}

// configSource says where a command's config comes from: the file of
// --config or $CONSILIUM_CONFIG, and the process environment (env nil).
// When neither a file nor a database URL is given, a command run in a
// checkout (./bin/consilium ...) uses the development cluster that make
// run started there, and says so: the newcomer's second terminal needs no
// settings of its own.
func configSource(cmd *cobra.Command) (path string, env []string) {
	path, _ = cmd.Flags().GetString("config")
	if path == "" {
		path = os.Getenv("CONSILIUM_CONFIG")
	}
	if path != "" || os.Getenv("DATABASE_URL") != "" || os.Getenv(config.EnvName("database.url")) != "" {
		return path, nil
	}
	file, vars := devCluster()
	if file == "" {
		return "", nil
	}
	env = os.Environ()
	for _, key := range devClusterKeys {
		if _, set := os.LookupEnv(key); !set && vars[key] != "" {
			env = append(env, key+"="+vars[key])
		}
	}
	newLogger(defaultLog()).Info("no --config, CONSILIUM_CONFIG or DATABASE_URL: using the development cluster of this checkout "+
		"(started by make run or make db)", "settings", file)
	return "", env
}

// devCluster reads the development cluster's settings from the working
// directory's .data/dev.env, else from the one of the checkout the binary
// was built in (bin/consilium run from elsewhere). It returns the file read
// and its devClusterKeys, or "" when there is none.
func devCluster() (string, map[string]string) {
	candidates := []string{devClusterFile}
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "..", devClusterFile))
	}
	for _, c := range candidates {
		raw, err := os.ReadFile(c)
		if err != nil {
			continue
		}
		vars := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			if key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && slices.Contains(devClusterKeys, key) {
				vars[key] = value
			}
		}
		if vars["DATABASE_URL"] == "" {
			continue
		}
		abs, err := filepath.Abs(c)
		if err != nil {
			abs = c
		}
		return abs, vars
	}
	return "", nil
}
