package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Open opens (or creates) the spool in dir for destination, a text that
// names where its data goes. max bounds the bytes held that are not yet in
// Redis: past it, reading stdin waits. It returns a *BusyError when
// another process has the directory, and a *ForeignError when the spool
// holds data for another destination; in both cases nothing is changed.
func Open(dir string, maxSize int64, destination string) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, rerr := io.ReadAll(io.LimitReader(lock, 200))
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			h := strings.TrimSpace(string(holder))
			if h == "" || rerr != nil {
				h = "pid unknown"
			}
			return nil, &BusyError{Dir: dir, Holder: h}
		}
		return nil, fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	s := &Spool{dir: dir, max: maxSize, lock: lock}
	s.room = sync.NewCond(&s.mu)
	host, err := os.Hostname()
	if err != nil {
		host = "an unknown host"
	}
	// Written over the old pid, then cut: on a full disk, a block the file
	// already has takes it. Should it not fit, the lock holds all the same.
	holder := []byte(fmt.Sprintf("pid %d on %s\n", os.Getpid(), host))
	if _, err := lock.WriteAt(holder, 0); err == nil {
		lock.Truncate(int64(len(holder))) //nolint:errcheck // the text only tells who holds the lock; the lock holds all the same
	}
	if err := s.load(destination); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// load reads the spool's state; the lock is held. It writes nothing that
// needs room on the disk: what does not fit waits for the first write, so
// that a full disk cannot keep the data held from being replayed (which is
// what gives the room back).
func (s *Spool) load(destination string) error {
	dir := s.dir
	committed, commitOK, err := readCommitted(filepath.Join(dir, "committed"))
	if err != nil {
		return err
	}
	names, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		return err
	}
	sort.Strings(names) // zero-padded offsets sort in order
	for _, n := range names {
		start, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), "seg-"), ".log"), 10, 64)
		if err != nil || start < 0 {
			s.Notes = append(s.Notes, fmt.Sprintf("W! spool %s: ignoring %s, not a segment name this program writes", dir, filepath.Base(n)))
			continue
		}
		s.segs = append(s.segs, segment{start: start, path: n})
	}
	if len(s.segs) > 0 {
		last := s.segs[len(s.segs)-1]
		st, err := os.Stat(last.path)
		if err != nil {
			return err
		}
		s.end = last.start + st.Size()
	}

	// Where replay starts: the commit, within the data held.
	first := s.end
	if len(s.segs) > 0 {
		first = s.segs[0].start
	}
	switch {
	case !commitOK:
		s.committed = first
		s.Notes = append(s.Notes, fmt.Sprintf("W! spool %s: the commit file is empty or torn: "+
			"replaying all %d bytes held from their start (what was already in Redis is written again: at least once)", dir, s.end-first))
	case len(s.segs) == 0:
		s.committed, s.end = committed, committed
	case committed > s.end:
		// Never written so by this program: the file is not to be
		// trusted, and taking it would drop what is held.
		s.committed = first
		s.Notes = append(s.Notes, fmt.Sprintf("W! spool %s: the commit file says %d, past the end of the data held (%d): "+
			"taken as torn, replaying all %d bytes held from their start (what was already in Redis is written again: at least once)",
			dir, committed, s.end, s.end-first))
	default:
		// Before the first segment: the segments up to it were deleted
		// once in Redis while the commit file could not be written (a
		// full disk). Replay starts at the oldest byte held.
		s.committed = max(committed, first)
	}
	s.lineEnd = s.end

	if err := s.claim(destination); err != nil {
		return err
	}
	if len(s.segs) == 0 {
		if err := s.rotate(); err != nil && !NoRoom(err) {
			return err
		}
		return nil // without a segment, the first write makes one
	}
	last := s.segs[len(s.segs)-1]
	f, err := os.OpenFile(last.path, os.O_RDWR, 0o600) // no O_APPEND: splice(2) refuses it
	if err != nil {
		return err
	}
	s.file, s.fd, s.fileStart = f, int(f.Fd()), last.start
	s.limit = s.segmentLimit()
	// The process may have died halfway through a line: end it, so the
	// next bytes do not join it. The piece is replayed as a bad line.
	if size := s.end - last.start; size > 0 {
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, size-1); err == nil && b[0] != '\n' {
			_, err := f.WriteAt([]byte{'\n'}, size)
			if err == nil {
				err = f.Sync()
			}
			if err != nil {
				if !NoRoom(err) {
					return err
				}
				// Ended in memory: replayed so, and written before the
				// next bytes once there is room.
				f.Truncate(size) //nolint:errcheck // best effort: the next write is at the same offset
				s.mem = []byte{'\n'}
			}
			s.end++
			s.lineEnd = s.end
		}
	}
	return s.prune()
}

// readCommitted reads the commit file: ok is false when it exists but
// holds no offset (a crash of the machine can leave it empty).
func readCommitted(path string) (offset int64, ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	offset, perr := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if perr == nil && offset >= 0 && strings.HasSuffix(string(data), "\n") {
		return offset, true, nil
	}
	return 0, false, nil // torn: a state the caller reports, not an error
}

// claim checks the spool's destination against ours. Data held for
// another one is refused; an empty spool is taken over. Should the record
// find no room, it is written before the first byte.
func (s *Spool) claim(destination string) error {
	path := filepath.Join(s.dir, "destination")
	theirs, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	held := s.end - s.committed
	switch {
	case string(theirs) == destination:
		return nil
	case err != nil && held > 0:
		// A spool from before destinations were recorded: its data was
		// read by this program with, most likely, this config.
		s.Notes = append(s.Notes, fmt.Sprintf("W! spool %s records no destination (made by an older version): its %d bytes go to %s",
			s.dir, held, oneLine(destination)))
	case err == nil && held > 0:
		return &ForeignError{Dir: s.dir, Held: held, Theirs: oneLine(string(theirs)), Ours: oneLine(destination)}
	case err == nil:
		s.Notes = append(s.Notes, fmt.Sprintf("I! spool %s was for %s and is empty: it is now for %s", s.dir, oneLine(string(theirs)), oneLine(destination)))
	}
	if err := writeDurably(s.dir, "destination", []byte(destination)); err != nil {
		if !NoRoom(err) {
			return err
		}
		s.destPending = destination
	}
	return nil
}

// oneLine shows a destination record on one log line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")), " ")
}

// writeDurably replaces dir/name so that after a crash, of the process or
// of the machine, it holds either the old content or the new, whole: the
// new content is written and synced under another name, renamed over the
// old, and the directory synced so the rename itself is on disk.
func writeDurably(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp) // what it holds of the disk goes back
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
