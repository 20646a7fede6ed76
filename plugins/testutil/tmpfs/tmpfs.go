// Package tmpfs gives a test a small file system of its own, to fill up:
// a tmpfs mounted on a temporary directory (root, or CAP_SYS_ADMIN, is
// needed; without it the test is skipped, saying so).
package tmpfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs with these options ("size=1m", "nr_inodes=8", ...)
// on a new directory, unmounted when the test ends (after the cleanups
// registered later, such as those that stop processes using it).
func Mount(t testing.TB, options ...string) string {
	t.Helper()
	// A test that needs a mount is an integration test, skipped in short
	// mode: go test -short needs no root.
	if testing.Short() {
		t.Fatal("tmpfs.Mount: no tmpfs is mounted under -short; name this test ...Integration " +
			"and begin it with if testing.Short() { t.Skip(...) }")
	}
	dir := t.TempDir()
	opts := strings.Join(append([]string{"mode=0700"}, options...), ",")
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("this test needs a small file system to fill up, and mounting a tmpfs (%s) on %s is not permitted here: %v (run as root)", opts, dir, err)
		}
		t.Fatalf("mounting a tmpfs (%s) on %s: %v", opts, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			// Still in use: detached now, gone once the last user is.
			if derr := syscall.Unmount(dir, syscall.MNT_DETACH); derr != nil {
				t.Errorf("detaching the tmpfs on %s: %v", dir, derr)
			}
			t.Errorf("unmounting the tmpfs on %s: %v", dir, err)
		}
	})
	return dir
}

// Fill writes a file in dir until the file system has no room left, and
// returns its name.
func Fill(t testing.TB, dir string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "filler-")
	if err != nil {
		t.Fatalf("filling %s: %v", dir, err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	for i := range page {
		page[i] = 'f'
	}
	for {
		if _, err := f.Write(page); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			break
		}
	}
	// The last page may have been taken in part: take what is left too.
	for {
		if _, err := f.Write(page[:1]); err != nil {
			break
		}
	}
	return filepath.Clean(f.Name())
}

// Free is the room left on the file system of dir, in bytes.
func Free(t testing.TB, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}
