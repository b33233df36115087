package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The committed api/openapi.yaml is the contract clients are generated
// from (and what CI lints and compiles a TypeScript client against): it
// must be exactly what the API serves. `make generate` rewrites it.
func TestCommittedOpenAPIDocument(t *testing.T) {
	t.Parallel()
	committed, err := os.ReadFile(filepath.Join("..", "..", "api", "openapi.yaml"))
	require.NoError(t, err)
	printed, err := runCLI(t, "openapi", "--yaml")
	require.NoError(t, err)
	if string(committed) != printed {
		t.Fatalf("api/openapi.yaml differs from the document the API serves: run `make generate` and commit it (%d bytes committed, %d served)",
			len(committed), len(printed))
	}
}
