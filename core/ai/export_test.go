package ai

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// What the external tests reach inside the service.

// ChunkCount is chunkCount.
func ChunkCount(ctx context.Context, s *Service, userID uuid.UUID) (float64, error) {
	return s.chunkCount(ctx, userID)
}

// SetChunkCount makes the service remember n chunks for the user, counted
// age ago.
func SetChunkCount(s *Service, userID uuid.UUID, n float64, age time.Duration) {
	s.chunkCounts.Store(userID, countEntry{n, time.Now().Add(-age)})
}

// CountRefreshing reports whether the user's chunks are being counted again.
func CountRefreshing(s *Service, userID uuid.UUID) bool {
	_, ok := s.countsRefreshing.Load(userID)
	return ok
}
