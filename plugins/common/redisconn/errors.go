package redisconn

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gomodule/redigo/redis"
)

// NeedsOperator reports whether err is a Redis reply that waiting alone
// will not cure (wrong type at the key, permissions, bad credentials, a
// script error), as opposed to a network failure or a server that is
// loading, read-only after a failover, out of memory or busy. Both kinds
// are retried, since giving up would lose data; the first kind is logged
// as an error so that someone acts.
func NeedsOperator(err error) bool {
	var ce *ConfigError
	if errors.As(err, &ce) {
		return true
	}
	var re redis.Error
	if !errors.As(err, &re) {
		msg := err.Error()
		// AUTH failures surface from Dial wrapped in our own text.
		return strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "NOAUTH") ||
			strings.Contains(msg, "NOPERM")
	}
	return !ServerState(re)
}

// code is the first word of a reply error: WRONGTYPE, NOPERM, OOM, ...
func code(re redis.Error) string {
	c, _, _ := strings.Cut(string(re), " ")
	return c
}

// ServerState reports whether err is a reply refusing a command for the
// state the server (or the cluster) is in, whatever the command's key:
// loading, busy with a script, out of memory, a replica, a cluster slot
// moving. Any other reply error (WRONGTYPE, NOPERM, ...) is about the
// command or its key.
func ServerState(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	switch code(re) {
	case "LOADING", "BUSY", "OOM", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "MOVED", "ASK":
		return true
	}
	return false
}

// Away reports whether err says that Redis cannot be reached or cannot
// serve any command yet: a network error or a failed dial, or a server
// still loading its data or busy with a script. A PING tells when that
// ends (Client.Probe), so such a failure is probed for often rather than
// waited out with a backoff. A reply that refuses the command itself, or
// a dial refused for a reason an operator must fix (a wrong password), is
// not: only a new attempt tells that it was fixed.
func Away(err error) bool {
	if err == nil {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		c := code(re)
		return c == "LOADING" || c == "BUSY"
	}
	return !NeedsOperator(err)
}

// WrongType explains a WRONGTYPE reply to a command on key: Redis's own
// text names neither the key nor what it holds, which is what an operator
// needs. It asks TYPE on c, and returns a redis.Error still starting with
// WRONGTYPE, so the error is classified as before. Other errors come back
// as they are.
func WrongType(c redis.Conn, err error, key, want string) error {
	var re redis.Error
	if !errors.As(err, &re) || !strings.HasPrefix(string(re), "WRONGTYPE") {
		return err
	}
	holds, terr := redis.String(c.Do("TYPE", key))
	if terr != nil {
		holds = "value whose type TYPE did not tell (" + terr.Error() + ")"
	}
	return redis.Error(fmt.Sprintf("WRONGTYPE key %q holds a %s, not a %s (%s)", key, holds, want, strings.TrimPrefix(string(re), "WRONGTYPE ")))
}
