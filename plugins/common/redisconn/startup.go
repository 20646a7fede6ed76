package redisconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"reflect"
	"strings"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
)

// StartupError is a failed start of a plugin built into Telegraf (an
// output's Connect, an input's Start), as Telegraf's
// startup_error_behavior reads it: errors.As finds Telegraf's own
// *internal.StartupError in it, whose Retry tells whether the start may
// succeed later without anyone acting (Redis not up yet) or not (a wrong
// password). Telegraf's internal package cannot be imported from outside
// its module, so As builds Telegraf's error by reflection; were its shape
// to change, As finds nothing and Telegraf treats the error as a plain
// one: it stops with the reason, as startup_error_behavior = "error" does.
type StartupError struct {
	Err   error
	Retry bool
}

func (e *StartupError) Error() string { return e.Err.Error() }

func (e *StartupError) Unwrap() error { return e.Err }

// The type errors.As is asked for by Telegraf's models.
const (
	telegrafInternal     = "github.com/influxdata/telegraf/internal"
	telegrafStartupError = "StartupError"
)

// As fills in a target of type **internal.StartupError (Telegraf's) with
// Err and Retry.
func (e *StartupError) As(target any) bool {
	v := reflect.ValueOf(target)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Pointer {
		return false
	}
	t := v.Elem().Type().Elem()
	if t.Kind() != reflect.Struct || t.PkgPath() != telegrafInternal || t.Name() != telegrafStartupError {
		return false
	}
	errField, okErr := t.FieldByName("Err")
	retryField, okRetry := t.FieldByName("Retry")
	if !okErr || !okRetry || errField.Type != reflect.TypeFor[error]() || retryField.Type.Kind() != reflect.Bool {
		return false
	}
	s := reflect.New(t)
	s.Elem().FieldByIndex(errField.Index).Set(reflect.ValueOf(&e.Err).Elem())
	s.Elem().FieldByIndex(retryField.Index).SetBool(e.Retry)
	v.Elem().Set(s)
	return true
}

// AtStartup is err, from the first connection of a plugin built into
// Telegraf, as a *StartupError: retryable when Redis may come up or
// recover by itself, not when an operator must act (see Retryable).
func AtStartup(err error) *StartupError {
	return &StartupError{Err: err, Retry: Retryable(err)}
}

// Retryable reports whether a failed connection may succeed later
// without anyone acting: Redis (or the sentinels, or a cluster node) is
// not reachable yet, or is still loading its data. It may not after a
// refusal an operator must act on: a wrong password or user, a password
// the server does not ask for (NOAUTH, or AUTH to a server without one),
// a missing permission (NOPERM), a database the server does not have,
// protected mode (DENIED), a certificate the client or the server does
// not accept. (A TLS client on a plain port waits for a handshake that
// never comes, as with a server that hangs: retryable.)
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		// A server at its maxclients takes connections again once
		// others have closed theirs.
		return ServerState(re) || strings.Contains(string(re), "max number of clients reached")
	}
	if tlsRefused(err) {
		return false
	}
	// A reply scrubbed of a password has lost its type, not its text.
	return !NeedsOperator(err)
}

// tlsRefused tells a TLS handshake that failed for its certificates or
// its protocol, which trying again does not change, from a network
// failure during the handshake (a reset, a timeout), which it may.
func tlsRefused(err error) bool {
	var (
		closed    *tlsClosedError
		verify    *tls.CertificateVerificationError
		header    tls.RecordHeaderError
		alert     tls.AlertError
		authority x509.UnknownAuthorityError
		host      x509.HostnameError
		invalid   x509.CertificateInvalidError
		op        *net.OpError
	)
	switch {
	case errors.As(err, &closed), errors.As(err, &verify), errors.As(err, &header), errors.As(err, &alert),
		errors.As(err, &authority), errors.As(err, &host), errors.As(err, &invalid):
		return true
	case errors.As(err, &op) && op.Op == "remote error":
		// An alert from the server: crypto/tls reports it so (a client
		// certificate missing or refused, no common protocol version).
		return true
	}
	return false
}

// Starts reports the failed starts of a plugin that Telegraf retries
// (startup_error_behavior = "retry"): Telegraf logs the first failure,
// then only "not connected" at each retry, so a start that fails for
// another reason afterwards (Redis came up, but refuses the password) is
// logged here, once per change of reason; a start that succeeds after
// failures is logged too.
type Starts struct {
	Log      telegraf.Logger
	Endpoint string

	failed int
	last   string
}

// Failed records a failed start and returns it as a *StartupError.
func (s *Starts) Failed(err error) *StartupError {
	se := AtStartup(err)
	s.failed++
	msg := err.Error()
	if s.failed > 1 && msg != s.last {
		if se.Retry {
			s.Log.Warnf("start failed again: %s", msg)
		} else {
			s.Log.Errorf("start failed again: %s (an operator must act)", msg)
		}
	}
	s.last = msg
	return se
}

// Succeeded records a start that worked.
func (s *Starts) Succeeded() {
	if s.failed > 0 {
		s.Log.Infof("connected to Redis at %s after %d failed starts", s.Endpoint, s.failed)
	}
	s.failed, s.last = 0, ""
}
