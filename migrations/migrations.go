// Package migrations holds Consilium's SQL migrations, embedded in the binary
// and applied by goose (see core/db). River's own tables are migrated beside
// them by rivermigrate.
package migrations

import "embed"

// FS holds the *.sql migration files.
//
//go:embed *.sql
var FS embed.FS
