//go:build !unix

package sdk

import "os"

// protectStdout is a no-op where descriptors cannot be duplicated portably;
// plugins there must not print to stdout before Serve.
func protectStdout() *os.File { return nil }
