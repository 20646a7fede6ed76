package config

import (
	"testing"
	"time"
)

func TestRemoveComments(t *testing.T) {
	for in, want := range map[string]string{
		"a = 1 # c\n":                      "a = 1 \n",
		"a = \"x # y\" # c\n":              "a = \"x # y\" \n",
		"a = 'x # y' # c\n":                "a = 'x # y' \n",
		"a = \"\"\"x\n# y\"\"\" # c\n":     "a = \"\"\"x\n# y\"\"\" \n",
		"a = '''x\n# y''' # c\n":           "a = '''x\n# y''' \n",
		"a = \"q\\\" # still\" # c\n":      "a = \"q\\\" # still\" \n",
		"# whole line ${X:?boom}\nb = 2\n": "\nb = 2\n",
	} {
		got, err := removeComments([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("%q: got %q (%v), want %q", in, got, err, want)
		}
	}
}

// Hostile: unterminated strings at the end of the file end the trimmer;
// Telegraf 1.37's own loops forever on the first of them.
func TestRemoveCommentsEndsOnUnterminatedStrings(t *testing.T) {
	for _, in := range []string{"s='''.redis]]\naddress='", "s='''x''", `s="""x""`, `s="x\`, "s='x", "s='''", `s="""`} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := removeComments([]byte(in)); err != nil {
				t.Logf("%q: %v", in, err)
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("removeComments does not end on %q", in)
		}
	}
}
