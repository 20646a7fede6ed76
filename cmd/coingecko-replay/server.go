package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bodies as CoinGecko sends them (error shapes from its docs and client code).
const (
	pongBody      = `{"gecko_says":"(V3) To the Moon!"}`
	rateLimitBody = `{"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit. ` +
		`Please visit https://www.coingecko.com/en/api/pricing to subscribe to our API plans for higher rate limits."}}`
	missingKeyBody   = `{"status":{"error_code":10002,"error_message":"API Key Missing"}}`
	invalidKeyBody   = `{"status":{"error_code":10010,"error_message":"Invalid API Key"}}`
	internalBody     = `{"error":"Internal Server Error"}`
	notFoundBody     = `{"error":"Incorrect path. Please check https://www.coingecko.com/api/"}`
	missingIDsBody   = `{"error":"Missing parameter ids"}`
	missingVsBody    = `{"error":"Missing parameter vs_currencies"}`
	badPrecisionBody = `{"error":"Invalid value for precision"}`
)

// options are the behaviours chosen on the command line.
type options struct {
	apiKey    string                           // demo key every /api/v3 request must carry; "" = keyless
	failEvery int                              // 500 on every n-th /simple/price request; 0 = never
	rateLimit int                              // /api/v3 requests per rolling minute; 0 = unlimited
	expBelow  float64                          // prices smaller than this are written as 1.5e-09
	logf      func(format string, args ...any) // request log; nil = quiet
	now       func() time.Time                 // clock, replaceable in tests
}

// server answers like api.coingecko.com and remembers what it served.
type server struct {
	opt    options
	src    Source
	served *servedLog

	// mu serialises /api/v3 requests so sequence numbers, price steps and the
	// served log are in one order, the order the clients saw.
	mu    sync.Mutex
	limit *limiter
	seq   int // /simple/price requests so far
	step  int // price steps served so far
}

func newServer(src Source, served *servedLog, opt options) *server {
	if opt.now == nil {
		opt.now = time.Now
	}
	if opt.expBelow == 0 {
		opt.expBelow = 1e-6
	}
	s := &server{opt: opt, src: src, served: served}
	if opt.rateLimit > 0 {
		s.limit = &limiter{max: opt.rateLimit}
	}
	return s
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/ping", s.ping)
	mux.HandleFunc("GET /api/v3/simple/price", s.price)
	mux.HandleFunc("GET /replay/served", s.listServed)
	mux.HandleFunc("/", s.notFound)
	return mux
}

// reply is a response before it is written.
type reply struct {
	status     int
	body       string
	retryAfter int // seconds for the Retry-After header; 0 = none
}

func (s *server) ping(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := reply{status: http.StatusOK, body: pongBody}
	if refused := s.admit(r); refused != nil {
		rep = *refused
	}
	s.write(w, r, rep, "")
}

func (s *server) price(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	rep, step := s.answerPrice(r)
	err := s.served.add(servedEntry{
		Seq:    s.seq,
		Step:   step,
		Time:   s.opt.now().UTC(),
		Status: rep.status,
		Query:  r.URL.RawQuery,
		Body:   json.RawMessage(rep.body),
	})
	if err != nil {
		s.logf("E! served log: %v", err)
	}
	s.write(w, r, rep, fmt.Sprintf(" seq=%d step=%d", s.seq, step))
}

// answerPrice decides the reply to a /simple/price request and returns the
// price step it consumed (0 when it served no prices).
func (s *server) answerPrice(r *http.Request) (reply, int) {
	if refused := s.admit(r); refused != nil {
		return *refused, 0
	}
	if s.opt.failEvery > 0 && s.seq%s.opt.failEvery == 0 {
		return reply{status: http.StatusInternalServerError, body: internalBody}, 0
	}
	q := r.URL.Query()
	ids := splitList(q.Get("ids"), false)
	if len(ids) == 0 {
		return reply{status: http.StatusUnprocessableEntity, body: missingIDsBody}, 0
	}
	currencies := splitList(q.Get("vs_currencies"), true)
	if len(currencies) == 0 {
		return reply{status: http.StatusUnprocessableEntity, body: missingVsBody}, 0
	}
	precision, err := parsePrecision(q.Get("precision"))
	if err != nil {
		return reply{status: http.StatusUnprocessableEntity, body: badPrecisionBody}, 0
	}
	s.step++
	body := encodeQuote(s.src.Next(), ids, currencies, precision, s.opt.expBelow)
	return reply{status: http.StatusOK, body: string(body)}, s.step
}

// admit makes the checks CoinGecko makes before it looks at a request: the
// rate limit, then the API key. It returns the refusal, or nil.
func (s *server) admit(r *http.Request) *reply {
	if s.limit != nil {
		if wait := s.limit.allow(s.opt.now()); wait > 0 {
			secs := max(1, int(math.Ceil(wait.Seconds())))
			return &reply{status: http.StatusTooManyRequests, body: rateLimitBody, retryAfter: secs}
		}
	}
	if s.opt.apiKey == "" {
		return nil
	}
	key := r.Header.Get("x-cg-demo-api-key")
	if key == "" {
		key = r.URL.Query().Get("x_cg_demo_api_key")
	}
	switch key {
	case "":
		return &reply{status: http.StatusUnauthorized, body: missingKeyBody}
	case s.opt.apiKey:
		return nil
	default:
		return &reply{status: http.StatusUnauthorized, body: invalidKeyBody}
	}
}

func (s *server) listServed(w http.ResponseWriter, r *http.Request) {
	since := 0
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.write(w, r, reply{status: http.StatusBadRequest, body: `{"error":"since must be an integer"}`}, "")
			return
		}
		since = n
	}
	body, err := marshalJSON(s.served.since(since))
	if err != nil {
		s.write(w, r, reply{status: http.StatusInternalServerError, body: internalBody}, "")
		return
	}
	s.write(w, r, reply{status: http.StatusOK, body: string(body)}, "")
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	s.write(w, r, reply{status: http.StatusNotFound, body: notFoundBody}, "")
}

func (s *server) write(w http.ResponseWriter, r *http.Request, rep reply, note string) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	if rep.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(rep.retryAfter))
	}
	w.WriteHeader(rep.status)
	if _, err := w.Write([]byte(rep.body)); err != nil {
		s.logf("W! %s %s: writing response: %v", r.Method, r.URL.RequestURI(), err)
		return
	}
	s.logf("I! %s %s %d%s", r.Method, r.URL.RequestURI(), rep.status, note)
}

func (s *server) logf(format string, args ...any) {
	if s.opt.logf != nil {
		s.opt.logf(format, args...)
	}
}

// splitList reads a comma list the way CoinGecko does: spaces trimmed, empty
// items and repeats dropped; currencies are case-insensitive.
func splitList(s string, lower bool) []string {
	items := strings.Split(s, ",")
	out := make([]string, 0, len(items))
	seen := make(map[string]bool, len(items))
	for _, item := range items {
		item = strings.TrimSpace(item)
		if lower {
			item = strings.ToLower(item)
		}
		if item == "" || seen[item] {
			continue
		}
		seen[item] = true
		out = append(out, item)
	}
	return out
}
