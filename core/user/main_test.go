package user_test

import (
	"testing"

	"github.com/consilium-hq/consilium/core/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
