package sdk_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/consilium-hq/consilium/sdk"
	pb "github.com/consilium-hq/consilium/sdk/gen/consiliumv1"
)

// The Go constant, the handshake, the .proto sources and the generated code
// must all speak the same protocol version.
func TestProtocolVersionMatchesProto(t *testing.T) {
	if got := int(pb.Protocol_PROTOCOL_CURRENT); got != sdk.ProtocolVersion {
		t.Fatalf("proto PROTOCOL_CURRENT = %d, sdk.ProtocolVersion = %d", got, sdk.ProtocolVersion)
	}
	if int(sdk.Handshake.ProtocolVersion) != sdk.ProtocolVersion {
		t.Fatalf("Handshake.ProtocolVersion = %d, want %d", sdk.Handshake.ProtocolVersion, sdk.ProtocolVersion)
	}
	wantPkg := fmt.Sprintf("consilium.v%d", sdk.ProtocolVersion)
	if got := string(pb.File_consilium_v1_plugin_proto.Package()); got != wantPkg {
		t.Fatalf("generated package %q, want %q", got, wantPkg)
	}
	pkgRE := regexp.MustCompile(`(?m)^package\s+([\w.]+)\s*;`)
	for _, f := range protoFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := pkgRE.FindSubmatch(src)
		if m == nil || string(m[1]) != wantPkg {
			t.Errorf("%s: package %q, want %q", f, m, wantPkg)
		}
	}
}

// Fails when a .proto changed without running gen.sh.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	h := sha256.New()
	for _, f := range protoFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != pb.ProtoSourceSHA256 {
		t.Fatalf("proto sources changed since the Go code was generated: run sdk/gen.sh\n(sources %s, generated from %s)", got, pb.ProtoSourceSHA256)
	}
}

func protoFiles(t *testing.T) []string {
	t.Helper()
	fs, err := filepath.Glob(filepath.Join("proto", "consilium", fmt.Sprintf("v%d", sdk.ProtocolVersion), "*.proto"))
	if err != nil || len(fs) == 0 {
		t.Fatalf("no .proto files found: %v", err)
	}
	sort.Strings(fs)
	return fs
}
