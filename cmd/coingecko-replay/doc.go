// Command coingecko-replay is a stand-in for CoinGecko's public API
// (https://api.coingecko.com/api/v3) so the scraper Telegraf, the Kafka pipeline
// and the Redis plugins can be tested without the internet and with prices that
// are known in advance.
//
// Usage:
//
//	coingecko-replay [-listen 127.0.0.1:0] [-record DIR [-cycle] | -seed N -ids a,b=1.5 -volatility F]
//	                 [-fail-every N] [-rate-limit N] [-x-cg-demo-api-key KEY]
//	                 [-exp-below F] [-served-log FILE] [-log]
//
// The first line on stdout is "listening on http://HOST:PORT"; nothing else is
// written there. Scripts and tests read the port from it.
//
// Endpoints:
//
//	GET /api/v3/ping                 {"gecko_says":"(V3) To the Moon!"}
//	GET /api/v3/simple/price?ids=a,b&vs_currencies=usd[,eur][&precision=0..18|full]
//	GET /replay/served[?since=SEQ]   JSON list of every /simple/price response (see below)
//
// Prices come from one of two sources. Each 200 response to /simple/price
// consumes exactly one step of the source, whatever ids it asked for, so step n
// is the n-th successful response and both sources are exact and repeatable:
//
//   - -record DIR: every *.json file in DIR, in name order, is one recorded
//     CoinGecko response ({"bitcoin":{"usd":97234.12,"eur":...},...}). After the
//     last file the server keeps serving the last one, or starts again at the
//     first with -cycle.
//   - otherwise a seeded random walk over -ids (usd only): step 1 serves the start
//     prices, every later step multiplies each price by exp(volatility*N(0,1)).
//     Every coin has its own generator seeded from (-seed, coin id), so a coin's
//     path depends only on the seed, its id and its start price.
//
// Answers follow CoinGecko's shape: only requested ids that are known, in request
// order (unknown ids are left out; a coin without a requested currency is {}),
// 422 {"error":"Missing parameter ids"} or "...vs_currencies" when a parameter is
// missing or empty, 401 {"status":{"error_code":10002,...}} when -x-cg-demo-api-key
// is set and the request carries no key (header x-cg-demo-api-key or query
// x_cg_demo_api_key; an empty value counts as none), 401 with error_code 10010 for
// a wrong key, 429 with CoinGecko's body and Retry-After when more than
// -rate-limit requests arrive in a rolling minute (every request counts, as at
// CoinGecko, except those refused by the limit itself), and 500 on every
// -fail-every'th /simple/price request.
//
// Numbers: precision=N rounds to N decimals (correctly rounded, then the nearest
// float64); "full" or no precision serves the value as recorded. A price is
// written as the shortest decimal that reads back to the same float64: plain
// (0.000012345678901234) when its magnitude is at least -exp-below (default
// 1e-6, the same cut as Go's encoding/json), otherwise in exponent form with a
// two-digit exponent (1.523e-09), as CoinGecko does for very small prices. Both
// are JSON numbers, so every JSON reader gets the same float64.
//
// Served log: every /simple/price response, including errors, is kept in memory
// and, with -served-log FILE, appended to FILE as one JSON line:
//
//	{"seq":3,"step":2,"time":"2025-11-25T13:10:00.123Z","status":200,"query":"ids=...","body":{...}}
//
// seq counts /simple/price requests (1-based); step is the price step served (0
// for errors); body is the exact response body.
package main
