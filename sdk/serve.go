package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/consilium-hq/consilium/sdk/internal/wire"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ServeConfig says what a plugin process serves. Set at least one kind; a
// process may serve both, and the host dispenses the kind its config names.
type ServeConfig struct {
	LLM         LLM
	Integration Integration
}

// maxMessageSize bounds one gRPC message either way (images for Transcribe,
// large sync pages).
const maxMessageSize = 64 << 20

// Serve serves the plugin and never returns; call it from main:
//
//	func main() { sdk.Serve(sdk.ServeConfig{Integration: &myPlugin{}}) }
//
// Anything the plugin prints to stdout is moved to stderr (which the host
// logs), so a stray fmt.Println cannot break the handshake. A panic inside a
// call becomes an internal error for that call only.
func Serve(cfg ServeConfig) {
	set, err := serverPluginSet(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "consilium plugin:", err)
		os.Exit(1)
	}
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		fmt.Fprintf(os.Stderr, "This program is a Consilium plugin and is started by the Consilium host.\n"+
			"To try it by hand, run: consilium plugins check %s\n", os.Args[0])
		os.Exit(1)
	}
	if msg := versionWarning(os.Getenv("PLUGIN_PROTOCOL_VERSIONS")); msg != "" {
		fmt.Fprintln(os.Stderr, msg)
	}
	exitWithHost(os.Getppid(), os.Getppid, time.Second)
	handshakeOut := protectStdout()
	if handshakeOut != nil {
		// go-plugin prints the handshake line to os.Stdout and then replaces
		// os.Stdout with its own pipe; point it at the filtered real stdout.
		os.Stdout = handshakeOut
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: set},
		GRPCServer:       newGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "go-plugin", Level: hclog.Warn, Output: os.Stderr, JSONFormat: true,
		}),
	})
	os.Exit(0)
}

// exitWithHost ends the plugin once the host that started it (the process
// ppid) is gone: a host killed with -9 cannot stop its plugins, and an
// orphaned plugin would otherwise run on forever, holding whatever the
// host's own parent shared with it (a pipe such a parent waits on). The
// orphan is adopted by another process, so its parent pid changes.
func exitWithHost(ppid int, getppid func() int, every time.Duration) {
	if ppid <= 1 {
		return // already an orphan, or started by init: nothing to watch
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for range t.C {
			if getppid() != ppid {
				fmt.Fprintf(os.Stderr, "consilium plugin: the host (pid %d) is gone; exiting\n", ppid)
				os.Exit(1)
			}
		}
	}()
}

// ServeTest serves cfg inside the current process until ctx is done, for test
// harnesses such as sdk/plugintest: a host attaches with
// plugin.ClientConfig{Reattach: cfg}. The returned channel closes when the
// server has stopped.
func ServeTest(ctx context.Context, cfg ServeConfig) (*plugin.ReattachConfig, <-chan struct{}, error) {
	set, err := serverPluginSet(cfg)
	if err != nil {
		return nil, nil, err
	}
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	go plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: set},
		GRPCServer:       newGRPCServer,
		// go-plugin logs its normal test-mode shutdown as an error.
		Logger: hclog.New(&hclog.LoggerOptions{Name: "go-plugin", Level: hclog.Off}),
		Test:   &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closed},
	})
	select {
	case rc := <-reattach:
		return rc, closed, nil
	case <-closed:
		return nil, nil, errors.New("plugin server stopped before it was ready")
	}
}

func serverPluginSet(cfg ServeConfig) (plugin.PluginSet, error) {
	reg := &serverRegistry{rt: newPluginRuntime()}
	set := plugin.PluginSet{}
	if cfg.LLM != nil {
		set[string(KindLLM)] = &llmPlugin{impl: cfg.LLM, reg: reg}
	}
	if cfg.Integration != nil {
		set[string(KindIntegration)] = &integrationPlugin{impl: cfg.Integration, reg: reg}
	}
	if len(set) == 0 {
		return nil, errors.New("ServeConfig needs an LLM or an Integration")
	}
	for k := range set {
		reg.kinds = append(reg.kinds, k)
	}
	sort.Strings(reg.kinds)
	return set, nil
}

func newGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts, grpc.MaxRecvMsgSize(maxMessageSize), grpc.MaxSendMsgSize(maxMessageSize))
	return grpc.NewServer(opts...)
}

// versionWarning explains, on the plugin's stderr, a host that offers no
// protocol version this plugin speaks. The host reports the same from its
// side after the handshake.
func versionWarning(offered string) string {
	if offered == "" {
		return ""
	}
	var hostVersions []int
	for _, s := range strings.Split(offered, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			continue
		}
		if v == ProtocolVersion {
			return ""
		}
		hostVersions = append(hostVersions, v)
	}
	newest := 0
	for _, v := range hostVersions {
		newest = max(newest, v)
	}
	advice := "rebuild this plugin against a newer Consilium SDK"
	if ProtocolVersion > newest {
		advice = "upgrade Consilium (the host), or use an older build of this plugin"
	}
	return fmt.Sprintf("consilium plugin: this plugin speaks plugin protocol v%d but the host speaks %s: %s",
		ProtocolVersion, wire.VersionList(hostVersions), advice)
}
