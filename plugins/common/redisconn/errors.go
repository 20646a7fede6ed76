package redisconn

import (
	"errors"
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
	re, ok := err.(redis.Error)
	if !ok {
		msg := err.Error()
		// AUTH failures surface from Dial wrapped in our own text.
		return strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "NOAUTH") ||
			strings.Contains(msg, "NOPERM")
	}
	code, _, _ := strings.Cut(string(re), " ")
	switch code {
	case "LOADING", "BUSY", "OOM", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "MOVED", "ASK":
		return false
	}
	return true
}
