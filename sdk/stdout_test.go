//go:build unix

package sdk

import "testing"

func TestHandshakeLineIsFoundInNoise(t *testing.T) {
	line := "1|1|unix|/tmp/plugin123|grpc|MIIBcert+/=="
	tests := map[string]struct {
		in   string
		want string
	}{
		"alone":          {in: line + "\n", want: line},
		"after noise":    {in: "hello from init" + line + "\n", want: line},
		"tcp, no cert":   {in: "1|1|tcp|127.0.0.1:1234|grpc\n", want: "1|1|tcp|127.0.0.1:1234|grpc"},
		"just noise":     {in: "1|2 plus some text\n", want: ""},
		"mux field kept": {in: line + "|true\n", want: line + "|true"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := handshakeRE.FindString(tt.in); got != tt.want {
				t.Fatalf("found %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVersionWarning(t *testing.T) {
	if got := versionWarning("1,2"); got != "" {
		t.Fatalf("shared version: %q", got)
	}
	if got := versionWarning(""); got != "" {
		t.Fatalf("legacy host: %q", got)
	}
	if got := versionWarning("2,3"); got == "" {
		t.Fatal("no warning for a host that only speaks newer versions")
	}
}
