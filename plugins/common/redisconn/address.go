package redisconn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// address is what the address option says. Besides host:port it takes
// the URLs users copy from Redis's documentation and other clients:
//
//	redis://[user[:password]@]host[:port][/db]   (redis-cli -u, go-redis, redis-py)
//	rediss://...                                 the same over TLS
//	unix://[[user]:password@]/path/to/socket[?db=N]
//	tcp://host:port
//
// Every part is honoured or refused; none is dropped.
type address struct {
	scheme        string
	network, addr string // what is dialed
	tls           bool   // rediss://
	plain         bool   // redis:// or unix://: TLS was not asked for
	username      string
	password      string
	hasPassword   bool
	// userOnly is userinfo without ':' (redis://name@host): redis-cli
	// reads it as a password, go-redis and redis-py as a user name.
	userOnly bool
	db       int
	hasDB    bool
}

// parseAddress reads the address option. Its errors never quote the
// password: they show the address redacted.
func parseAddress(s string) (*address, error) {
	if !strings.Contains(s, "://") {
		addr, err := hostPort(s, "")
		if err != nil {
			return nil, err
		}
		return &address{network: "tcp", addr: addr}, nil
	}
	shown := Redact(s)
	u, err := url.Parse(s)
	if err != nil {
		// url's errors quote the whole URL, password and all.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("%q is not a valid URL (%v); a password with '@', ':', '/' or '%%' must be percent-encoded", shown, err)
	}
	a := &address{scheme: u.Scheme}
	if u.User != nil {
		a.username = u.User.Username()
		a.password, a.hasPassword = u.User.Password()
		a.userOnly = !a.hasPassword
	}
	if u.Fragment != "" || strings.HasSuffix(s, "#") {
		return nil, fmt.Errorf("%q: a URL fragment (#...) means nothing here", shown)
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%q: bad query: %v", shown, err)
	}
	for k, v := range query {
		if k != "db" || len(v) != 1 {
			return nil, fmt.Errorf("%q: query parameter %q is not supported (only db=N)", shown, k)
		}
		if err := a.setDB(v[0], shown); err != nil {
			return nil, err
		}
	}

	switch u.Scheme {
	case "unix":
		if u.Host != "" {
			return nil, fmt.Errorf("%q: write unix:///path/to/socket (three slashes; the host part must be empty)", shown)
		}
		if u.Path == "" {
			return nil, fmt.Errorf("%q: no socket path", shown)
		}
		a.network, a.addr, a.plain = "unix", u.Path, true
		return a, nil
	case "tcp", "redis", "rediss":
	default:
		return nil, fmt.Errorf("%q: unknown scheme %q (want redis, rediss, unix or tcp)", shown, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%q: no host", shown)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "6379")
	}
	if a.addr, err = hostPort(host, shown); err != nil {
		return nil, err
	}
	a.network, a.tls, a.plain = "tcp", u.Scheme == "rediss", u.Scheme == "redis"
	switch path := strings.TrimPrefix(u.Path, "/"); {
	case path == "":
	case u.Scheme == "tcp":
		return nil, fmt.Errorf("%q: tcp:// takes no path", shown)
	default:
		if a.hasDB {
			return nil, fmt.Errorf("%q: the database is given twice (/%s and ?db=)", shown, path)
		}
		if err := a.setDB(path, shown); err != nil {
			return nil, err
		}
	}
	if u.Scheme == "tcp" && u.User != nil {
		return nil, fmt.Errorf("%q: tcp:// takes no user or password (use redis://)", shown)
	}
	return a, nil
}

func (a *address) setDB(s, shown string) error {
	db, err := strconv.Atoi(s)
	if err != nil || db < 0 {
		return fmt.Errorf("%q: database %q is not a number from 0", shown, s)
	}
	a.db, a.hasDB = db, true
	return nil
}

// hostPort checks host:port, the port from 1 to 65535.
func hostPort(s, shown string) (string, error) {
	if shown == "" {
		shown = s
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q: want host:port (%v)", shown, err)
	}
	if host == "" {
		return "", fmt.Errorf("%q: no host", shown)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q: port %q is not a number from 1 to 65535", shown, port)
	}
	return s, nil
}

// Redact hides the password of an address URL, for anything printed:
// redis://user:secret@host becomes redis://user:xxxxx@host. It works on
// text url.Parse refuses too.
func Redact(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	// Other clients take ?password=...: whatever a query holds but db is
	// hidden.
	rest, query, hasQuery := strings.Cut(rest, "?")
	if hasQuery {
		params := strings.Split(query, "&")
		for i, p := range params {
			if k, _, _ := strings.Cut(p, "="); k != "db" {
				params[i] = k + "=xxxxx"
			}
		}
		query = "?" + strings.Join(params, "&")
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if user, _, hasPassword := strings.Cut(rest[:at], ":"); hasPassword {
			rest = user + ":xxxxx@" + rest[at+1:]
		} else {
			rest = "xxxxx@" + rest[at+1:] // redis-cli reads a lone name as the password
		}
	}
	return scheme + "://" + rest + query
}
