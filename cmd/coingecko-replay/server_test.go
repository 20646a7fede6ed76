package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// testServer serves the recorded testdata with the given options.
func testServer(t *testing.T, opt options) (*server, http.Handler) {
	t.Helper()
	src, err := loadRecorded(recordDir, false)
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(src, &servedLog{}, opt)
	h := s.handler()
	return s, h
}

type response struct {
	status int
	body   string
	header http.Header
}

func get(h http.Handler, target string, header map[string]string) response {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Body.String(), rec.Header()}
}

func expect(t *testing.T, got response, status int, body string) {
	t.Helper()
	if got.status != status || got.body != body {
		t.Errorf("got %d %s\nwant %d %s", got.status, got.body, status, body)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

const priceURL = "/api/v3/simple/price?"

func TestPing(t *testing.T) {
	_, h := testServer(t, options{})
	expect(t, get(h, "/api/v3/ping", nil), 200, `{"gecko_says":"(V3) To the Moon!"}`)
}

func TestNotFound(t *testing.T) {
	_, h := testServer(t, options{})
	expect(t, get(h, "/api/v3/coins/list", nil), 404, notFoundBody)
}

func TestPriceShape(t *testing.T) {
	_, h := testServer(t, options{})
	expect(t, get(h, priceURL+"ids=bitcoin,ethereum&vs_currencies=usd&precision=18", nil), 200,
		`{"bitcoin":{"usd":97234.12},"ethereum":{"usd":3391.45}}`)
}

func TestPriceUnknownIDsAndCurrencies(t *testing.T) {
	_, h := testServer(t, options{})
	expect(t, get(h, priceURL+"ids=ethereum,nosuchcoin,bitcoin,ethereum&vs_currencies=USD,eur,xyz", nil), 200,
		`{"ethereum":{"usd":3391.45,"eur":2928.18},"bitcoin":{"usd":97234.12,"eur":83951.94}}`)
	expect(t, get(h, priceURL+"ids=nosuchcoin&vs_currencies=usd", nil), 200, `{}`)
	expect(t, get(h, priceURL+"ids=bitcoin&vs_currencies=xyz", nil), 200, `{"bitcoin":{}}`)
}

func TestPricePrecisionAndTinyValues(t *testing.T) {
	q := Quote{"pepe": {"usd": 0.000012345678901234}, "babydoge": {"usd": 1.2345678e-08}, "bitcoin": {"usd": 97234.1234567}}
	s := newServer(&recorded{quotes: []Quote{q}}, &servedLog{}, options{})
	h := s.handler()
	ids := "ids=bitcoin,pepe,babydoge&vs_currencies=usd"
	expect(t, get(h, priceURL+ids, nil), 200, `{"bitcoin":{"usd":97234.1234567},"pepe":{"usd":0.000012345678901234},"babydoge":{"usd":1.2345678e-08}}`)
	expect(t, get(h, priceURL+ids+"&precision=full", nil), 200,
		`{"bitcoin":{"usd":97234.1234567},"pepe":{"usd":0.000012345678901234},"babydoge":{"usd":1.2345678e-08}}`)
	expect(t, get(h, priceURL+ids+"&precision=18", nil), 200,
		`{"bitcoin":{"usd":97234.1234567},"pepe":{"usd":0.000012345678901234},"babydoge":{"usd":1.2345678e-08}}`)
	expect(t, get(h, priceURL+ids+"&precision=9", nil), 200, `{"bitcoin":{"usd":97234.1234567},"pepe":{"usd":0.000012346},"babydoge":{"usd":1.2e-08}}`)
	expect(t, get(h, priceURL+ids+"&precision=2", nil), 200, `{"bitcoin":{"usd":97234.12},"pepe":{"usd":0},"babydoge":{"usd":0}}`)
	expect(t, get(h, priceURL+ids+"&precision=0", nil), 200, `{"bitcoin":{"usd":97234},"pepe":{"usd":0},"babydoge":{"usd":0}}`)
}

func TestPriceParameterErrorsConsumeNoStep(t *testing.T) {
	s, h := testServer(t, options{})
	cases := []struct{ query, body string }{
		{"vs_currencies=usd", missingIDsBody},
		{"ids=,%20,&vs_currencies=usd", missingIDsBody},
		{"ids=bitcoin", missingVsBody},
		{"ids=bitcoin&vs_currencies=", missingVsBody},
		{"ids=bitcoin&vs_currencies=usd&precision=19", badPrecisionBody},
		{"ids=bitcoin&vs_currencies=usd&precision=two", badPrecisionBody},
	}
	for _, c := range cases {
		expect(t, get(h, priceURL+c.query, nil), http.StatusUnprocessableEntity, c.body)
	}
	expect(t, get(h, priceURL+"ids=bitcoin&vs_currencies=usd", nil), 200, `{"bitcoin":{"usd":97234.12}}`)
	if s.step != 1 || s.seq != len(cases)+1 {
		t.Errorf("seq %d step %d after %d errors and one answer", s.seq, s.step, len(cases))
	}
}

func TestRecordedStepsAreServedInOrder(t *testing.T) {
	names := []string{"001", "002", "003", "004", "005", "005", "005"}
	want := make([]float64, 0, len(names))
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(recordDir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var q Quote
		if err := json.Unmarshal(data, &q); err != nil {
			t.Fatal(err)
		}
		want = append(want, q["solana"]["usd"])
	}
	_, h := testServer(t, options{})
	for i, w := range want {
		var got Quote
		if err := json.Unmarshal([]byte(get(h, priceURL+"ids=solana&vs_currencies=usd", nil).body), &got); err != nil {
			t.Fatal(err)
		}
		if got["solana"]["usd"] != w {
			t.Errorf("request %d: solana %v, want %v", i+1, got["solana"]["usd"], w)
		}
	}
}

func TestFailEvery(t *testing.T) {
	s, h := testServer(t, options{failEvery: 3})
	statuses := make([]int, 0, 7)
	for range 7 {
		r := get(h, priceURL+"ids=bitcoin&vs_currencies=usd", nil)
		statuses = append(statuses, r.status)
		if r.status == 500 && r.body != internalBody {
			t.Errorf("500 body %s", r.body)
		}
	}
	want := []int{200, 200, 500, 200, 200, 500, 200}
	if !equalInts(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	served := s.served.since(0)
	steps := make([]int, 0, len(served))
	for _, e := range served {
		steps = append(steps, e.Step)
	}
	if want := []int{1, 2, 0, 3, 4, 0, 5}; !equalInts(steps, want) {
		t.Errorf("steps %v, want %v (failures consume none)", steps, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRateLimit(t *testing.T) {
	clock := &fakeClock{time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC)}
	_, h := testServer(t, options{rateLimit: 2, now: clock.now})
	price := priceURL + "ids=bitcoin&vs_currencies=usd"
	expect(t, get(h, price, nil), 200, `{"bitcoin":{"usd":97234.12}}`)
	clock.t = clock.t.Add(10 * time.Second)
	expect(t, get(h, "/api/v3/ping", nil), 200, pongBody) // every request counts
	clock.t = clock.t.Add(10 * time.Second)
	r := get(h, price, nil)
	expect(t, r, 429, rateLimitBody)
	if ra := r.header.Get("Retry-After"); ra != "40" {
		t.Errorf("Retry-After %q, want 40 (first request leaves the minute in 40s)", ra)
	}
	clock.t = clock.t.Add(39 * time.Second)
	expect(t, get(h, price, nil), 429, rateLimitBody)
	clock.t = clock.t.Add(time.Second) // a minute after the first request
	expect(t, get(h, price, nil), 200, `{"bitcoin":{"usd":97456.09}}`)
}

func TestAPIKey(t *testing.T) {
	_, h := testServer(t, options{apiKey: "CG-test"})
	price := priceURL + "ids=bitcoin&vs_currencies=usd"
	expect(t, get(h, price, nil), 401, missingKeyBody)
	expect(t, get(h, price, map[string]string{"x-cg-demo-api-key": ""}), 401, missingKeyBody)
	expect(t, get(h, price, map[string]string{"x-cg-demo-api-key": "CG-wrong"}), 401, invalidKeyBody)
	expect(t, get(h, price+"&x_cg_demo_api_key=CG-wrong", nil), 401, invalidKeyBody)
	expect(t, get(h, "/api/v3/ping", nil), 401, missingKeyBody)
	expect(t, get(h, price, map[string]string{"X-Cg-Demo-Api-Key": "CG-test"}), 200, `{"bitcoin":{"usd":97234.12}}`)
	expect(t, get(h, price+"&x_cg_demo_api_key=CG-test", nil), 200, `{"bitcoin":{"usd":97456.09}}`)
}

func TestServedListAndLog(t *testing.T) {
	clock := &fakeClock{time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC)}
	src, err := loadRecorded(recordDir, false)
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	h := newServer(src, &servedLog{w: &file}, options{now: clock.now}).handler()

	queries := []string{"ids=bitcoin&vs_currencies=usd", "ids=bitcoin", "ids=ethereum,bitcoin&vs_currencies=usd,eur&precision=2"}
	bodies := make([]string, 0, len(queries))
	for _, q := range queries {
		bodies = append(bodies, get(h, priceURL+q, nil).body)
		clock.t = clock.t.Add(time.Second)
	}

	r := get(h, "/replay/served", nil)
	var list []servedEntry
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || r.status != 200 {
		t.Fatalf("GET /replay/served: %d %s: %v", r.status, r.body, err)
	}
	if len(list) != len(queries) {
		t.Fatalf("served %d entries, want %d", len(list), len(queries))
	}
	wantStatus, wantStep := []int{200, 422, 200}, []int{1, 0, 2}
	for i, e := range list {
		if e.Seq != i+1 || e.Step != wantStep[i] || e.Status != wantStatus[i] || e.Query != queries[i] ||
			string(e.Body) != bodies[i] || !e.Time.Equal(clock.t.Add(time.Duration(i-3)*time.Second)) {
			t.Errorf("entry %d = %+v (body %s), want seq %d step %d status %d query %q body %s",
				i, e, e.Body, i+1, wantStep[i], wantStatus[i], queries[i], bodies[i])
		}
	}

	// The file holds the same entries, one JSON line each.
	lines := strings.Split(strings.TrimSuffix(file.String(), "\n"), "\n")
	if len(lines) != len(list) {
		t.Fatalf("served log has %d lines, want %d:\n%s", len(lines), len(list), file.String())
	}
	for i, line := range lines {
		var e servedEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Seq != list[i].Seq || string(e.Body) != bodies[i] {
			t.Errorf("log line %d = %s (%v)", i, line, err)
		}
	}
	if !strings.Contains(lines[0], `"query":"ids=bitcoin&vs_currencies=usd"`) {
		t.Errorf("query escaped in log line: %s", lines[0])
	}

	r = get(h, "/replay/served?since=2", nil)
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list) != 1 || list[0].Seq != 3 {
		t.Errorf("since=2: %s (%v)", r.body, err)
	}
	expect(t, get(h, "/replay/served?since=99", nil), 200, "[]\n")
	if r := get(h, "/replay/served?since=x", nil); r.status != 400 {
		t.Errorf("since=x: %d", r.status)
	}
}

// TestRun starts the command as main does, on a real socket.
func TestRun(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "served.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stdoutR, stdoutW := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-record", recordDir, "-served-log", logPath, "-log"}, stdoutW, &stderr)
		stdoutW.Close()
	}()

	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil {
		t.Fatalf("no first line: %v", err)
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("first line %q", line)
	}
	go io.Copy(io.Discard, stdoutR) //nolint:errcheck // nothing else should come; only keeps the pipe drained, past the test's end

	resp, err := http.Get(base + priceURL + "ids=bitcoin,ethereum&vs_currencies=usd&precision=18")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"bitcoin":{"usd":97234.12},"ethereum":{"usd":3391.45}}`; string(body) != want {
		t.Errorf("body %s, want %s", body, want)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
	logged, err := os.ReadFile(logPath)
	if err != nil || !strings.Contains(string(logged), `"body":`+string(body)) {
		t.Errorf("served log %q (%v)", logged, err)
	}
	if !strings.HasPrefix(stderr.String(), "I! GET /api/v3/simple/price?") {
		t.Errorf("request log %q", stderr.String())
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-cycle"},
		{"-record", recordDir, "-seed", "2"},
		{"-ids", "nosuchcoin"},
		{"-fail-every", "-1"},
		{"-record", t.TempDir()},
		{"extra"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), args, &out, io.Discard)
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("run %v: err %v", args, err)
		}
		if out.Len() != 0 {
			t.Errorf("run %v printed %q before failing", args, out.String())
		}
	}
}
