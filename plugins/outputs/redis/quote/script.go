package quote

import (
	"embed"
	"strings"

	"github.com/gomodule/redigo/redis"
)

// The merge script lives in lua/ as modules named by role. Redis runs a
// script as one chunk and has no require, so the modules are joined, in
// the order of modules, into the one script whose SHA1 EVALSHA names:
// each module may use what the modules before it define.
//
//go:embed lua/*.lua
var luaFiles embed.FS

// modules is the order in which the files of lua/ are joined.
var modules = []string{
	"prelude.lua",  // what the script is: keys, arguments, replies; constants
	"decimal.lua",  // orders (times in ns) and plain decimals compared
	"json.lua",     // the document's JSON: strings, headers, entries read and written
	"args.lua",     // the arguments: the batch and the imported coins
	"state.lua",    // what is stored: the meta by name, entries read and checked
	"document.lua", // the document read in windows, planned and written
	"splice.lua",   // the usual merge: what changed, spliced in
	"main.lua",     // the entry point: the splice, or on to the rebuild
	"rebuild.lua",  // the rebuild: everything from the state; run when reached
}

// joinModules is the script: the modules of lua/ joined in order.
func joinModules() string {
	var b strings.Builder
	for _, name := range modules {
		src, err := luaFiles.ReadFile("lua/" + name)
		if err != nil {
			panic("quote: the merge script's module " + name + " is not embedded: " + err.Error())
		}
		b.Write(src)
	}
	return b.String()
}

// mergeLua is the merge script's source.
var mergeLua = joinModules()

// Script merges a batch of prices into the document; see lua/prelude.lua.
var Script = redis.NewScript(5, mergeLua)
