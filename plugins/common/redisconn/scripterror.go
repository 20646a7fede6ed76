package redisconn

import (
	"errors"
	"regexp"

	"github.com/gomodule/redigo/redis"
)

// Redis 6.2 wraps the error of a command a script called in an ERR of its
// own: "ERR Error running script (call to f_<sha>): @user_script:12:
// @user_script: 12: -OOM command not allowed ..." (without the second
// location and the dash for some errors, WRONGTYPE among them). Redis 7+
// and Valkey answer with the command's own error and the place after it:
// "OOM command not allowed ... script: <sha>, on @user_script:12.".
var wrappedScriptError = regexp.MustCompile(`^ERR Error running script \(call to f_([0-9a-f]+)\): ` +
	`(@user_script:[0-9]+): (?:@user_script: [0-9]+: )?-?([A-Z][A-Z_-]+ .*)$`)

// ScriptError gives an error from a script run the form Redis 7 gives it,
// so that one classification (OOM and READONLY waited out, WRONGTYPE
// explained, a failover noticed) holds on Redis 6.2 too: 6.2's wrapped
// command error comes back as the bare reply in Redis 7's words. Other
// errors (the script's own, a network error) come back as they are.
func ScriptError(err error) error {
	var re redis.Error
	if !errors.As(err, &re) {
		return err
	}
	m := wrappedScriptError.FindStringSubmatch(string(re))
	if m == nil {
		return err
	}
	return redis.Error(m[3] + " script: " + m[1] + ", on " + m[2] + ".")
}
