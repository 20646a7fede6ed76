package redis_consumer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricpairs"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// quoteReader reads the document redis-output keeps at key,
//
//	{"timestamp":1795552004,"quote":"usd","prices":[{"id":"bitcoin","price":"97234.12"},...]}
//
// and emits one metric per coin:
//
//	currency_rate,id=bitcoin,quote=usd price=97234.12 1795552004000000000
type quoteReader struct {
	p       *RedisConsumer
	out     *output
	units   time.Duration
	once    onceLog
	leftOut onceLog // coins that line protocol cannot carry
}

func newQuote(p *RedisConsumer, out *output) *quoteReader {
	return &quoteReader{p: p, out: out, units: time.Duration(p.TimestampUnits)}
}

// gather is one GET. A missing key or a bad document is no Redis failure:
// it is logged (once, until it changes) and yields no metrics.
func (q *quoteReader) gather(c redis.Conn) ([]telegraf.Metric, error) {
	doc, err := redis.Bytes(c.Do("GET", q.p.Key))
	if errors.Is(err, redis.ErrNil) {
		q.once.report(q.p.Log.Warnf, fmt.Sprintf("key %q does not exist: no metrics until it is written (redis-output writes it on its first flush)", q.p.Key))
		return nil, nil
	}
	if err != nil {
		return nil, redisconn.WrongType(c, err, q.p.Key, "string (the quote document)")
	}
	return q.metrics(doc, "key "+strconv.Quote(q.p.Key)), nil
}

// message takes a document published on the channel (redis-output's
// publish option): the body is the document, no GET needed.
func (q *quoteReader) message(m redis.Message) error {
	return q.out.emit(q.metrics(m.Data, "channel "+strconv.Quote(m.Channel)), q.p.Log)
}

func (q *quoteReader) metrics(doc []byte, from string) []telegraf.Metric {
	ms, leftOut, err := q.parseDoc(doc)
	if err != nil {
		q.once.report(q.p.Log.Errorf, fmt.Sprintf("malformed quote document in %s: %v: %q", from, err, logger.Head(doc)))
		return nil
	}
	q.once.clear()
	if leftOut != "" {
		q.leftOut.report(q.p.Log.Errorf, fmt.Sprintf("quote document in %s: %s", from, leftOut))
	} else {
		q.leftOut.clear()
	}
	return ms
}

// document is the quote as written by redis-output; pointers tell a
// missing member from a zero one.
type document struct {
	Timestamp *json.Number `json:"timestamp"`
	Quote     *string      `json:"quote"`
	Prices    *[]struct {
		ID    string          `json:"id"`
		Price json.RawMessage `json:"price"`
	} `json:"prices"`
}

// parse is parseDoc without the coins left out.
func (q *quoteReader) parse(doc []byte) ([]telegraf.Metric, error) {
	ms, _, err := q.parseDoc(doc)
	return ms, err
}

// parseDoc checks the whole document first: a bad one yields no metric at
// all rather than some of its coins. A coin whose id line protocol cannot
// carry is left out, and named in leftOut.
func (q *quoteReader) parseDoc(doc []byte) (ms []telegraf.Metric, leftOut string, err error) {
	var d document
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		return nil, "", fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, "", errors.New("invalid JSON: data after the document")
	}
	switch {
	case d.Timestamp == nil:
		return nil, "", errors.New(`no "timestamp"`)
	case d.Quote == nil || *d.Quote == "":
		return nil, "", errors.New(`no "quote"`)
	case d.Prices == nil:
		return nil, "", errors.New(`no "prices"`)
	}
	ts, err := strconv.ParseInt(d.Timestamp.String(), 10, 64)
	if err != nil || ts < 0 || ts > math.MaxInt64/int64(q.units) {
		return nil, "", fmt.Errorf(`"timestamp" %s is not a time in %s units`, d.Timestamp, q.units)
	}
	t := time.Unix(0, ts*int64(q.units))

	ms = make([]telegraf.Metric, 0, len(*d.Prices))
	ids := make(map[string]bool, len(*d.Prices))
	for _, c := range *d.Prices {
		ids[c.ID] = true
	}
	var unsafe []string
	for i, c := range *d.Prices {
		if c.ID == "" {
			return nil, "", fmt.Errorf(`prices[%d]: no "id"`, i)
		}
		price, err := parsePrice(c.Price)
		if err != nil {
			return nil, "", fmt.Errorf("prices[%d] (%s): %w", i, c.ID, err)
		}
		// Line protocol cannot end a tag value with '\': Telegraf's
		// serializer strips it, so "bs\" would reach Telegraf as "bs",
		// silently merged with the coin "bs" or renamed.
		if trimmed := strings.TrimRight(c.ID, `\`); trimmed != c.ID {
			why := fmt.Sprintf("%q (it would reach Telegraf as %q", c.ID, trimmed)
			if ids[trimmed] {
				why += ", merged with that coin"
			}
			unsafe = append(unsafe, why+")")
			continue
		}
		ms = append(ms, metric.New(q.p.Measurement,
			map[string]string{"id": c.ID, "quote": *d.Quote},
			map[string]any{"price": price}, t))
	}
	if len(unsafe) > 0 {
		leftOut = "coin ids left out, line protocol cannot carry a tag value ending in '\\': " + strings.Join(unsafe, ", ")
	}
	return ms, leftOut, nil
}

// parsePrice reads "97234.12" (redis-output writes a JSON string, the
// shortest decimal that reads back to the same float64, so the value is
// exact) or, leniently, a JSON number.
func parsePrice(raw json.RawMessage) (float64, error) {
	text := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, fmt.Errorf(`"price" %s: %w`, raw, err)
		}
	}
	if !metricpairs.Decimal(text) {
		return 0, fmt.Errorf(`"price" %s is not a decimal number`, raw)
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, fmt.Errorf(`"price" %s is not a float64`, raw)
	}
	return f, nil
}
