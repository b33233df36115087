package db

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/consilium-hq/consilium/core/apperr"
)

// UnavailableRetryAfter is the Retry-After given while the database cannot
// be reached.
const UnavailableRetryAfter = 5 * time.Second

// BusyRetryAfter is the Retry-After given when no pool connection became
// free within database.acquire_timeout.
const BusyRetryAfter = time.Second

// Unavailable returns err as an apperr.Unavailable error when it says the
// database cannot be reached or is going away (so the same request may work
// in a moment), and nil otherwise. Callers that turn errors into answers
// (the API's error hook) call it once, for every error a request ends with.
func Unavailable(err error) *apperr.Error {
	if errors.Is(err, ErrAcquireTimeout) {
		return &apperr.Error{
			Code:       apperr.Unavailable,
			Message:    "the server is busy (every database connection is in use): try again shortly",
			RetryAfter: BusyRetryAfter,
			Err:        err,
		}
	}
	if err == nil || !isConnectionError(err) {
		return nil
	}
	return &apperr.Error{
		Code:       apperr.Unavailable,
		Message:    "the database is unavailable: try again shortly",
		RetryAfter: UnavailableRetryAfter,
		Err:        err,
	}
}

// pgUnavailableCodes are SQLSTATEs of a server that is shutting down,
// starting up, or out of connections.
var pgUnavailableCodes = map[string]bool{
	"57P01": true, // admin_shutdown
	"57P02": true, // crash_shutdown
	"57P03": true, // cannot_connect_now
	"53300": true, // too_many_connections
}

func isConnectionError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgUnavailableCodes[pgErr.Code] || len(pgErr.Code) == 5 && pgErr.Code[:2] == "08" // connection_exception
	}
	var connectErr *pgconn.ConnectError
	switch {
	case errors.As(err, &connectErr): // dial or startup failed
		return true
	case errors.Is(err, pgconn.ErrConnClosed): // the connection was lost before this query
		return true
	case errors.Is(err, io.ErrUnexpectedEOF): // the server closed the connection mid-query (pgx returns it bare)
		return true
	}
	// Socket errors and timeouts count only when pgconn raised them: one
	// from another client (a plugin, a model provider) is not the database's.
	var fromPgconn interface{ SafeToRetry() bool }
	if !errors.As(err, &fromPgconn) {
		return false
	}
	var netErr net.Error
	return errors.Is(err, io.EOF) || pgconn.Timeout(err) || errors.As(err, &netErr)
}
