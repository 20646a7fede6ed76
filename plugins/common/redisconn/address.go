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

// percentEncoding is how an error says what to do with a reserved
// character in a user name or password.
const percentEncoding = "a user name or password must be percent-encoded ('@' as %40, ':' as %3A, '/' as %2F, '?' as %3F, '#' as %23, '%' as %25)"

// parseAddress reads the address option. Its errors never quote the
// user name or password, nor a part of the URL that may be one: they show
// the address redacted, and refuse a URL whose user name or password
// cannot be told apart from the rest before url.Parse, whose errors
// quote what they found.
func parseAddress(s string) (*address, error) {
	scheme, rest, isURL := cutScheme(s)
	if !isURL {
		addr, err := hostPort(s, "")
		if err != nil {
			return nil, err
		}
		return &address{network: "tcp", addr: addr}, nil
	}
	shown := Redact(s)
	if end := widestUserinfoEnd(scheme, rest); end >= 0 {
		userinfo := rest[:end]
		if strings.ContainsAny(userinfo, "/?#") {
			// url.Parse would end the host at that character and read
			// what follows (part of a password, perhaps) as host, port,
			// path or query: the errors would quote it.
			return nil, fmt.Errorf("%q: an '@' comes after a '/', '?' or '#', so the user name or password cannot be told from the host, path or query; %s",
				shown, percentEncoding)
		}
		if badEscape(userinfo) {
			return nil, fmt.Errorf("%q is not a valid URL (the user name or password holds a '%%' that does not start a %%XX escape); %s",
				shown, percentEncoding)
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		// url's errors quote the part they refuse, which may be the
		// password: say what the redacted address gets instead.
		reason := "the user name or password holds a character a URL cannot carry as is"
		if _, rerr := url.Parse(shown); rerr != nil {
			var uerr *url.Error
			if errors.As(rerr, &uerr) {
				rerr = uerr.Err
			}
			reason = rerr.Error()
		}
		return nil, fmt.Errorf("%q is not a valid URL (%s); %s", shown, reason, percentEncoding)
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
		// An escape error quotes the escape, which may be in a password
		// given as ?password=...
		reason := err.Error()
		if errors.As(err, new(url.EscapeError)) {
			reason = "a '%' that does not start a %XX escape"
		}
		return nil, fmt.Errorf("%q: bad query: %s", shown, reason)
	}
	// The first parameter that is not db, in the order written: Redact
	// shows the keys up to the first value it hides, and no further.
	for _, p := range strings.Split(u.RawQuery, "&") {
		k, _, _ := strings.Cut(p, "=")
		if unescaped, err := url.QueryUnescape(k); err == nil {
			k = unescaped
		}
		if p != "" && k != "db" {
			return nil, fmt.Errorf("%q: query parameter %q is not supported (only db=N)", shown, k)
		}
	}
	if v, ok := query["db"]; ok {
		if len(v) != 1 {
			return nil, fmt.Errorf("%q: query parameter \"db\" is given %d times", shown, len(v))
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

// cutScheme splits scheme://rest. Text before "://" that is not a
// scheme (a letter, then letters, digits, '+', '-' or '.') may be part of
// a password: then s is no URL.
func cutScheme(s string) (scheme, rest string, ok bool) {
	scheme, rest, ok = strings.Cut(s, "://")
	if !ok || scheme == "" {
		return "", s, false
	}
	for i := 0; i < len(scheme); i++ {
		c := scheme[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", s, false
		}
	}
	return scheme, rest, true
}

// knownScheme tells the schemes an address may have; any other "x://"
// may be a user name and a password that begins with "//".
func knownScheme(scheme string) bool {
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "unix", "tcp":
		return true
	}
	return false
}

// widestUserinfoEnd is where the user name and password may end in rest
// (the URL after "://"): at its last '@', wherever that is, or -1. A
// unix:/// address has no user name or password, and its socket path may
// hold an '@'.
func widestUserinfoEnd(scheme, rest string) int {
	if strings.EqualFold(scheme, "unix") && strings.HasPrefix(rest, "/") {
		return -1
	}
	return strings.LastIndexByte(rest, '@')
}

// urlUserinfoEnd is where url.Parse ends the user name and password: at
// the last '@' before the first '/', '?' or '#', or -1.
func urlUserinfoEnd(rest string) int {
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	return strings.LastIndexByte(authority, '@')
}

// badEscape reports a '%' not followed by two hex digits.
func badEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && (i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2])) {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
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
	if strings.Contains(s, "@") {
		// user:password@host:port: net's errors would quote it whole.
		return "", fmt.Errorf("%q: a user name or password needs a URL (redis://user:password@host:port); %s", Redact(s), percentEncoding)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q: want host:port (%w)", shown, err)
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

// Redact hides what may be a password in an address, for anything
// printed: redis://user:secret@host becomes redis://user:xxxxx@host. A
// password that holds an unencoded '/', '?', '#' or '@' makes the address
// ambiguous, so Redact hides what any reading takes for one: the user
// information as url.Parse ends it (at the last '@' before the first
// '/', '?' or '#') and as the widest reading does (at the last '@' of
// all), all of it when it has no ':' (redis-cli reads a lone name as the
// password), and the query from the first value that is not db's (other
// clients take ?password=...) wherever the query may start. It works on
// text url.Parse refuses too, and on user:password@host without a scheme.
func Redact(s string) string {
	scheme, rest, ok := cutScheme(s)
	if !ok {
		if !strings.Contains(s, "@") {
			return s
		}
		return strings.TrimPrefix(Redact("redis://"+s), "redis://")
	}
	hide := make([]bool, len(rest))
	mark := func(from, to int) {
		for i := from; i < to; i++ {
			hide[i] = true
		}
	}
	ends := []int{-1}
	if end := urlUserinfoEnd(rest); end >= 0 {
		ends = append(ends, end)
	}
	if end := widestUserinfoEnd(scheme, rest); end >= 0 {
		ends = append(ends, end)
	}
	for _, end := range ends {
		if end >= 0 {
			if i := strings.IndexByte(rest[:end], ':'); i >= 0 {
				mark(i+1, end) // the password
			} else {
				mark(0, end)
			}
		}
		// The query after this reading's user information, to the end
		// (a '#' may be in a value).
		q := strings.IndexByte(rest[end+1:], '?')
		if q < 0 {
			continue
		}
		// From the first value that is not db's to the end: an '&' in it
		// may be a password's too.
		at := end + 1 + q + 1
		for _, p := range strings.Split(rest[at:], "&") {
			if k, _, hasValue := strings.Cut(p, "="); hasValue && k != "db" {
				mark(at+len(k)+1, len(rest))
				break
			}
			at += len(p) + 1
		}
	}
	if !knownScheme(scheme) {
		// "u://secret@host" may be user u's password "//secret" with no
		// scheme at all: all before the last '@' may be the password.
		if at := strings.LastIndexByte(rest, '@'); at > 0 {
			mark(0, at)
		}
	}
	var b strings.Builder
	b.WriteString(scheme + "://")
	for i := 0; i < len(rest); i++ {
		if !hide[i] {
			b.WriteByte(rest[i])
		} else if i == 0 || !hide[i-1] {
			b.WriteString("xxxxx")
		}
	}
	return b.String()
}
