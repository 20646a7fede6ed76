package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

const quoteLine = `{"fields":{"fields_bitcoin_usd":97234.12},"name":"kafka_consumer","tags":{},"timestamp":1795552004}`

// TestExecdUsernameIsASecretIntegration: under execd, username is read as
// password is: ${VAR} from the environment (the write goes through as
// that ACL user: the default user has another password), and a reference
// to one of Telegraf's secret stores, which only Telegraf can resolve, is
// refused at start with the option's name rather than sent as the user.
func TestExecdUsernameIsASecretIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv := redistest.Start(t, "--requirepass", "admin-pw")
	srv.Do("ACL", "SETUSER", "writer", "on", ">writer-pw", "+@all", "~*", "&*")
	conf := writeConfig(t, fmt.Sprintf("[[outputs.redis]]\n  address = %q\n  username = \"${TR_USER}\"\n  password = \"${TR_PW}\"\n", srv.Addr))
	cmd := exec.Command(binary, "-config", conf)
	cmd.Env = append(os.Environ(), "TR_USER=writer", "TR_PW=writer-pw")
	cmd.Stdin = strings.NewReader(quoteLine + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, err := redis.String(srv.Do("GET", "coingecko:rate:usd"), nil); err != nil || !strings.Contains(got, `"bitcoin"`) {
		t.Fatalf("stored %q (%v)", got, err)
	}

	conf = writeConfig(t, fmt.Sprintf("[[outputs.redis]]\n  address = %q\n  username = \"@{vault:redis_user}\"\n  password = \"writer-pw\"\n", srv.Addr))
	// Sent as the user, it would be refused, and the write retried for
	// ever: bounded, so that the test fails rather than hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd = exec.CommandContext(ctx, binary, "-config", conf)
	cmd.Stdin = strings.NewReader(quoteLine + "\n")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "option username: ") {
		t.Fatalf("a secret-store reference was not refused: %v: %s", err, out)
	}
}
