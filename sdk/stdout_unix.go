//go:build unix

package sdk

import (
	"bufio"
	"os"
	"regexp"
	"sync"

	"golang.org/x/sys/unix"
)

// The go-plugin host reads exactly one line from the plugin's stdout: the
// handshake. Anything printed before it breaks the start, and some libraries
// or a stray fmt.Println do print. So when this process runs as a plugin:
//
//   - at init (before the plugin's own init functions and main), the real
//     stdout is moved to a private descriptor and descriptor 1 becomes a copy
//     of stderr, so everything written to stdout, even by C code, lands on
//     stderr, which the host logs;
//   - Serve hands go-plugin a pipe as os.Stdout whose reader forwards only the
//     handshake line to the real stdout, and everything else to stderr.

var (
	realStdoutOnce sync.Once
	realStdout     *os.File
)

func init() {
	if os.Getenv(Handshake.MagicCookieKey) == Handshake.MagicCookieValue {
		divertStdout()
	}
}

func divertStdout() {
	realStdoutOnce.Do(func() {
		fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return
		}
		if err := unix.Dup2(2, 1); err != nil {
			_ = unix.Close(fd)
			return
		}
		realStdout = os.NewFile(uintptr(fd), "/dev/stdout")
	})
}

// handshakeRE matches go-plugin's handshake line:
// core|app|network|address|protocol[|cert[|mux]].
var handshakeRE = regexp.MustCompile(`\d+\|\d+\|(unix|tcp)\|[^|\s]+\|(grpc|netrpc)(\|\S*)*`)

// protectStdout returns the writer go-plugin should print its handshake to,
// or nil when stdout could not be protected.
func protectStdout() *os.File {
	divertStdout()
	if realStdout == nil {
		return nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil
	}
	stderr := os.NewFile(2, "/dev/stderr")
	go func() {
		br := bufio.NewReader(r)
		forwarded := false
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				if loc := handshakeRE.FindStringIndex(line); !forwarded && loc != nil {
					if loc[0] > 0 {
						_, _ = stderr.WriteString(line[:loc[0]] + "\n")
					}
					_, _ = realStdout.WriteString(line[loc[0]:loc[1]] + "\n")
					_ = realStdout.Close()
					forwarded = true
				} else {
					_, _ = stderr.WriteString(line)
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return w
}
