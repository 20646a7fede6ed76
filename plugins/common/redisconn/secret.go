package redisconn

import "github.com/influxdata/telegraf/config"

// secretString reads a Telegraf secret (a plain value, or a reference to a
// secret store that Telegraf resolves when the plugin is built in) into the
// string redigo's dial options take.
func secretString(s *config.Secret) (string, error) {
	if s.Empty() {
		return "", nil
	}
	buf, err := s.Get()
	if err != nil {
		return "", err
	}
	defer buf.Destroy()
	return buf.String(), nil
}
