package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/consilium-hq/consilium/core/config"
)

// newHealthcheckCmd is the container's HEALTHCHECK: the image has no curl,
// and the binary knows where its own API listens.
func newHealthcheckCmd() *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "GET /readyz of the API this config serves; exit 0 when it answers 2xx",
		Long: "Asks the API listening at http.addr (a wildcard host such as 0.0.0.0 is asked on 127.0.0.1) for " +
			"/readyz, or the URL given by --url, and exits 0 when it answers 2xx, 1 otherwise. The Docker image's " +
			"HEALTHCHECK runs it. Problems in the rest of the config are ignored.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				path, env := configSource(cmd)
				cfg, _, err := config.Check(path, env)
				if err != nil {
					return err
				}
				u, err := readyzURL(cfg.HTTP.Addr)
				if err != nil {
					return err
				}
				url = u
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return fmt.Errorf("--url: %w", err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				return fmt.Errorf("%s answered %s: %s", url, resp.Status, body)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s %s\n", url, resp.Status, body)
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "URL to GET (default: /readyz at http.addr)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return cmd
}

// readyzURL is the /readyz URL of an API listening at addr (http.addr); a
// wildcard or empty host is reached on the loopback address.
func readyzURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("http.addr: %w", err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}
