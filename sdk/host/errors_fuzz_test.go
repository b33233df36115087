package host

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/sdk"
	pb "github.com/consilium-hq/consilium/sdk/gen/consiliumv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// FuzzWireError feeds arbitrary bytes to the host's decoding of a failed
// call: as a pb.Error detail of the call's status, and as the message of a
// status without one (any failure code). Whatever the plugin sent, the
// host gets an *sdk.Error with one of the documented codes and a
// RetryAfter that is not negative.
//
// Run: cd sdk && go test -run '^$' -fuzz '^FuzzWireError$' -fuzztime 60s ./host/
func FuzzWireError(f *testing.F) {
	for _, e := range []*pb.Error{
		{Code: string(sdk.CodeRateLimited), Message: "slow down", RetryAfter: durationpb.New(3 * time.Second)},
		{Code: "made_up", Message: "?", RetryAfter: &durationpb.Duration{Seconds: -5}},
		{Code: string(sdk.CodeNeedsReauth)},
	} {
		b, err := proto.Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(true, b)
	}
	f.Add(false, []byte("plugin connection lost"))

	f.Fuzz(func(t *testing.T, detail bool, data []byte) {
		var st *status.Status
		if detail {
			var pe pb.Error
			if proto.Unmarshal(data, &pe) != nil {
				return
			}
			var err error
			if st, err = status.New(codes.Unknown, "x").WithDetails(&pe); err != nil {
				t.Fatal(err)
			}
		} else {
			st = status.New(codes.Code(1+uint32(len(data))%16), string(data)) // any failure code (OK is no error)
		}
		err := errorFromStatus(context.Background(), "Sync", st.Err())
		var e *sdk.Error
		if !errors.As(err, &e) {
			t.Fatalf("not an *sdk.Error: %T %v", err, err)
		}
		if !slices.Contains(sdk.Codes, e.Code) {
			t.Fatalf("code %q is not one of the documented codes", e.Code)
		}
		if e.RetryAfter < 0 {
			t.Fatalf("negative RetryAfter %s", e.RetryAfter)
		}
	})
}
