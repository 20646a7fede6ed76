// Package roundtrip holds the property test of the plugin pair: random
// metrics, as Telegraf's [[outputs.execd]] writes them (JSON or line
// protocol), go through redis-output into a real redis-server and back out
// of redis-input, in every pairing of modes that carries metrics, and must
// come back as the same data. It has no code of its own: see its tests,
// run by `make test` and, as FuzzRoundTripIntegration, by `make fuzz`.
package roundtrip
