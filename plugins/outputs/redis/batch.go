package redis

import (
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// wrote counts in stats a write that went through, and logs the lines it
// asked for (quote mode: prices refused, coins aged out, entries
// repaired): the execd loop and the built-in Write both report them.
func (r *Redis) wrote(stats *Stats, res writer.Result) {
	stats.Written.Add(int64(res.Written))
	stats.Settled.Add(int64(res.Settled))
	for _, w := range res.Warnings {
		r.Log.Warn(w)
	}
	for _, i := range res.Infos {
		r.Log.Info(i)
	}
}
