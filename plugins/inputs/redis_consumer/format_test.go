package redis_consumer

import (
	// The parsers of the tests beyond those the plugin imports.
	_ "github.com/influxdata/telegraf/plugins/parsers/json_v2"
	_ "github.com/influxdata/telegraf/plugins/parsers/logfmt"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/config"
)

// withFormat decodes lines of options into p as its config file would:
// the parser's options reach it only that way, as in Telegraf.
func withFormat(p *RedisConsumer, lines string) {
	if err := config.Decode("[[inputs.redis_consumer]]\n"+lines+"\n", "inputs", "redis_consumer", p); err != nil {
		panic(err)
	}
}
