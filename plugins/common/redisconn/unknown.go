package redisconn

import (
	"errors"
	"strings"

	"github.com/gomodule/redigo/redis"
)

// UnknownCommand reports whether err is the server's refusal of a command
// it does not have (older than the command, or renamed away with
// rename-command), and names the command as the server echoed it. Redis
// 6 quotes the name with backquotes, Redis 7+ and Valkey with single
// quotes: "ERR unknown command 'xautoclaim', with args beginning with: ...".
func UnknownCommand(err error) (string, bool) {
	var re redis.Error
	if !errors.As(err, &re) {
		return "", false
	}
	rest, ok := strings.CutPrefix(string(re), "ERR unknown command ")
	if !ok || rest == "" || (rest[0] != '\'' && rest[0] != '`') {
		return "", false
	}
	name, _, ok := strings.Cut(rest[1:], rest[:1])
	if !ok || name == "" {
		return "", false
	}
	return name, true
}

// NewConfigError is a refusal an operator must act on, worded as msg: a
// setting this server cannot honour.
func NewConfigError(msg string) error { return &ConfigError{msg} }
