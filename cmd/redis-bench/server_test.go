package main

import (
	"fmt"
	"testing"
)

// The CPUs a ceiling is pinned to come from the CPU list the process may
// use, which in a container need not start at 0; a list that does not
// parse pins nothing.
func TestFirstCPUs(t *testing.T) {
	for list, want := range map[string]string{
		"0-1":     "[0 1]",
		"4,5":     "[4 5]",
		"0-3,8":   "[0 1]",
		"6,2-3":   "[6 2]",
		"7":       "[7]",
		"12-12":   "[12]",
		"":        "[]",
		"3-1":     "[]",
		"a-b":     "[]",
		"1,x":     "[]",
		"-1":      "[]",
		"0-1-2":   "[]",
		"0-, 1":   "[]",
		"0-99999": "[0 1]",
	} {
		if got := fmt.Sprint(firstCPUs(list, 2)); got != want {
			t.Errorf("%q: %s, want %s", list, got, want)
		}
	}
}
