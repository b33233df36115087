# Sourced by the scripts that run go: the Go the project builds, tests and
# scans with. go1.26.8 (this machine's) has known vulnerabilities our code
# calls (net/http, html/template, crypto/tls, crypto/x509, mime; fixed in
# go1.26.9/10 and go1.27.2/3: scripts/vulncheck.sh); the go command takes
# go1.27.3 from the Go module proxy (about 76 MB, once a machine) when
# GOTOOLCHAIN names it. A GOTOOLCHAIN already set is kept.
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"
