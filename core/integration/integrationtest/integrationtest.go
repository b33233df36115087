// Package integrationtest runs the SDK's example integration plugin
// (sdk/examples/hello, auth none) for tests that need a provider to connect:
// one build and one plugin host per test binary.
package integrationtest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/testsecrets"
	"github.com/consilium-hq/consilium/sdk"
)

// HelloName is the provider name the example plugin runs under.
const HelloName = "hello"

var shared struct {
	once sync.Once
	host *plugin.Host
	item plugin.PluginConfig
	err  error
}

// MasterKey is a master key for tests (integrations.master_key).
var MasterKey = func() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}()

// Hello returns the running host of the hello plugin and its config item.
func Hello(t testing.TB) (*plugin.Host, plugin.PluginConfig) {
	t.Helper()
	shared.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			shared.err = err
			return
		}
		dir, err := os.MkdirTemp("", "consilium-hello-plugin-")
		if err != nil {
			shared.err = err
			return
		}
		dbtest.AtExit(func() { os.RemoveAll(dir) })
		bin := filepath.Join(dir, HelloName)
		cmd := exec.Command("go", "build", "-o", bin, "github.com/consilium-hq/consilium/sdk/examples/hello")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			shared.err = fmt.Errorf("build hello: %v\n%s", err, out)
			return
		}
		shared.item = plugin.PluginConfig{Name: HelloName, Kind: sdk.KindIntegration, Path: bin, Enabled: true}
		cfg := plugin.Config{Items: []plugin.PluginConfig{shared.item}}.WithDefaults()
		h := plugin.New(cfg, testsecrets.Logger("plugin-host"), plugin.WithVersion("test"))
		h.Start(context.Background())
		dbtest.AtExit(h.Stop)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := h.WaitReady(ctx); err != nil {
			shared.err = err
			return
		}
		if st, _ := h.State(HelloName); st.State != plugin.StateRunning {
			shared.err = fmt.Errorf("hello plugin is %s: %s", st.State, st.LastError)
			return
		}
		shared.host = h
	})
	if shared.err != nil {
		t.Fatalf("integrationtest: %v", shared.err)
	}
	return shared.host, shared.item
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not in a module")
	}
	return filepath.Dir(mod), nil
}
