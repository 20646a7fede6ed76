package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestExecdUsernameIsASecretIntegration: under execd, username is read as
// password is: ${VAR} from the environment (the read goes through as that
// ACL user: the default user has another password), and a reference to
// one of Telegraf's secret stores, which only Telegraf can resolve, is
// refused at start with the option's name rather than sent as the user.
func TestExecdUsernameIsASecretIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv := redistest.Start(t, "--requirepass", "admin-pw")
	srv.Do("SET", "coingecko:rate:usd", doc)
	srv.Do("ACL", "SETUSER", "reader", "on", ">reader-pw", "+@all", "~*", "&*")
	conf := writeConfig(t, fmt.Sprintf("[[inputs.redis_consumer]]\n  address = %q\n  username = \"${TR_USER}\"\n  password = \"${TR_PW}\"\n",
		srv.Addr))
	cmd := exec.Command(binary(t), "-config", conf, "-once")
	cmd.Env = append(cmd.Environ(), "TR_USER=reader", "TR_PW=reader-pw")
	if out, err := cmd.Output(); err != nil || string(out) != docLines {
		t.Fatalf("%v: %q", err, out)
	}

	conf = writeConfig(t, fmt.Sprintf("[[inputs.redis_consumer]]\n  address = %q\n  username = \"@{vault:redis_user}\"\n  password = \"reader-pw\"\n",
		srv.Addr))
	out, err := exec.Command(binary(t), "-config", conf, "-once").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "option username: ") {
		t.Fatalf("a secret-store reference was not refused: %v: %s", err, out)
	}
}
