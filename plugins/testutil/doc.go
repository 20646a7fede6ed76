// Package testutil holds what only tests use: real servers started on free
// loopback ports (redistest, kafkatest), the real Telegraf and our commands
// (telegraftest), a proxy that stalls or cuts connections (faultproxy) and a
// goroutine-safe buffer (syncbuf), random metrics (metricgen) and the
// round-trip property test of the pair (roundtrip). Only _test.go files
// import them.
package testutil
