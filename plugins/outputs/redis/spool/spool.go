// Package spool keeps what redis-output read from stdin on disk until it
// is in Redis. Telegraf's [[outputs.execd]] counts a metric as delivered
// once it is written to our stdin (and Kafka's offset is committed then),
// so without a spool a SIGKILL loses what the plugin held; with one, the
// bytes are on disk before they are decoded, and the next start replays
// them.
//
// The spool is a log of stdin's bytes in segment files named by the
// offset of their first byte, plus a file "committed" holding the offset
// below which everything is in Redis. Segments wholly below it are
// deleted.
//
// One process owns a spool: "lock" is held with flock(2) while it is open
// (the kernel releases it when the process dies, SIGKILL included) and
// names the holder's pid. "destination" records where the data goes
// (address, database, mode, key, input format): a spool is never replayed
// to another destination. The commit file is replaced durably (written,
// fsynced, renamed, directory fsynced); should it be found empty or torn
// all the same, the held data is replayed from its start: at least once,
// never a start-up failure. So is an offset past the end of the data held.
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

// segmentSize is the size at which a new segment file is started; a
// variable so that tests can make segments small.
var segmentSize int64 = 16 << 20

// Spool is one spool directory, used by one process at a time.
type Spool struct {
	dir  string
	max  int64
	lock *os.File // flock'd while open

	// Notes are what Open recovered from or changed, for W!/I! lines.
	Notes []string

	mu        sync.Mutex
	room      *sync.Cond
	segs      []segment // oldest first; the last is appended to
	file      *os.File  // the last segment, written at end
	fileStart int64     // the offset of file's first byte
	fd        int       // file's descriptor, for splice
	end       int64     // offset after the last byte
	committed int64     // everything before this is in Redis
	closed    bool
}

type segment struct {
	start int64
	path  string
}

// BusyError is a spool directory locked by another process.
type BusyError struct {
	Dir    string
	Holder string // "pid 1234 on host", as the holder wrote it
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("spool_dir %s is in use by another process (%s)", e.Dir, e.Holder)
}

// ForeignError is a spool holding data read for another destination.
type ForeignError struct {
	Dir          string
	Held         int64
	Theirs, Ours string
}

func (e *ForeignError) Error() string {
	return fmt.Sprintf("spool_dir %s holds %d bytes read for another destination (%s; this process writes to %s)",
		e.Dir, e.Held, e.Theirs, e.Ours)
}

// Open opens (or creates) the spool in dir for destination, a text that
// names where its data goes. max bounds the bytes held that are not yet in
// Redis: past it, reading stdin waits. It returns a *BusyError when
// another process has the directory, and a *ForeignError when the spool
// holds data for another destination; in both cases nothing is changed.
func Open(dir string, max int64, destination string) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := io.ReadAll(io.LimitReader(lock, 200))
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			h := strings.TrimSpace(string(holder))
			if h == "" {
				h = "pid unknown"
			}
			return nil, &BusyError{Dir: dir, Holder: h}
		}
		return nil, fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	s := &Spool{dir: dir, max: max, lock: lock}
	s.room = sync.NewCond(&s.mu)
	host, _ := os.Hostname()
	if err := lock.Truncate(0); err == nil {
		_, _ = lock.WriteAt([]byte(fmt.Sprintf("pid %d on %s\n", os.Getpid(), host)), 0)
	}
	if err := s.load(destination); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// load reads the spool's state; the lock is held.
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
		s.Notes = append(s.Notes, fmt.Sprintf("W! spool %s: the commit file is empty or torn: replaying all %d bytes held from their start (what was already in Redis is written again: at least once)", dir, s.end-first))
	case len(s.segs) == 0:
		s.committed, s.end = committed, committed
	case committed > s.end:
		// Never written so by this program: the file is not to be
		// trusted, and taking it would drop what is held.
		s.committed = first
		s.Notes = append(s.Notes, fmt.Sprintf("W! spool %s: the commit file says %d, past the end of the data held (%d): taken as torn, replaying all %d bytes held from their start (what was already in Redis is written again: at least once)", dir, committed, s.end, s.end-first))
	default:
		// Before the first segment (those before it were deleted once in
		// Redis): replay starts at the oldest byte held.
		s.committed = max(committed, first)
	}

	if err := s.claim(destination); err != nil {
		return err
	}
	if len(s.segs) == 0 {
		return s.rotate()
	}
	last := s.segs[len(s.segs)-1]
	f, err := os.OpenFile(last.path, os.O_RDWR, 0o600) // no O_APPEND: splice(2) refuses it
	if err != nil {
		return err
	}
	s.file, s.fd, s.fileStart = f, int(f.Fd()), last.start
	// The process may have died halfway through a line: end it, so the
	// next bytes do not join it. The piece is replayed as a bad line.
	if size := s.end - last.start; size > 0 {
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, size-1); err == nil && b[0] != '\n' {
			if _, err := f.WriteAt([]byte{'\n'}, size); err != nil {
				return err
			}
			s.end++
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
	if perr != nil || offset < 0 || !strings.HasSuffix(string(data), "\n") {
		return 0, false, nil
	}
	return offset, true, nil
}

// claim checks the spool's destination against ours. Data held for
// another one is refused; an empty spool is taken over.
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
		s.Notes = append(s.Notes, fmt.Sprintf("W! spool %s records no destination (made by an older version): its %d bytes go to %s", s.dir, held, oneLine(destination)))
	case err == nil && held > 0:
		return &ForeignError{Dir: s.dir, Held: held, Theirs: oneLine(string(theirs)), Ours: oneLine(destination)}
	case err == nil:
		s.Notes = append(s.Notes, fmt.Sprintf("I! spool %s was for %s and is empty: it is now for %s", s.dir, oneLine(string(theirs)), oneLine(destination)))
	}
	return writeDurably(s.dir, "destination", []byte(destination))
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

// rotate starts a new segment at the current end.
func (s *Spool) rotate() error {
	path := filepath.Join(s.dir, fmt.Sprintf("seg-%020d.log", s.end))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if s.file != nil {
		s.file.Close()
	}
	s.file, s.fd, s.fileStart = f, int(f.Fd()), s.end
	s.segs = append(s.segs, segment{start: s.end, path: path})
	// The new name must survive a crash of the machine with the bytes
	// that will be synced into it.
	return syncDir(s.dir)
}

// Held is the number of bytes not yet in Redis.
func (s *Spool) Held() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end - s.committed
}

// Start is the offset replay starts from; End is where stdin's bytes go.
func (s *Spool) Start() int64 { s.mu.Lock(); defer s.mu.Unlock(); return s.committed }
func (s *Spool) End() int64   { s.mu.Lock(); defer s.mu.Unlock(); return s.end }

// Replay reads what a previous run left: from the committed offset to
// the end, across segments. Close it when done.
func (s *Spool) Replay() (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var readers []io.Reader
	var files replay
	for i, seg := range s.segs {
		segEnd := s.end
		if i+1 < len(s.segs) {
			segEnd = s.segs[i+1].start
		}
		if segEnd <= s.committed {
			continue
		}
		f, err := os.Open(seg.path)
		if err != nil {
			files.Close()
			return nil, err
		}
		files.files = append(files.files, f)
		from := max(0, s.committed-seg.start)
		readers = append(readers, io.NewSectionReader(f, from, segEnd-seg.start-from))
	}
	files.Reader = io.MultiReader(readers...)
	return &files, nil
}

type replay struct {
	io.Reader
	files []*os.File
}

func (r *replay) Close() error {
	for _, f := range r.files {
		f.Close()
	}
	return nil
}

// Tee returns a reader that appends what it reads from r to the spool,
// synced, before handing it on; it waits while the spool is full. Read
// it from one goroutine.
//
// When r is a pipe (stdin under Telegraf is one), bytes are moved from it
// into the spool file by splice(2): a byte leaves the pipe only by landing
// in the file, in one system call, so no SIGKILL can fall between taking
// a byte from Telegraf and keeping it. They are then read back from the
// file (the page cache). Other readers are read, then written.
func (s *Spool) Tee(r io.Reader) io.Reader {
	t := &tee{s: s, r: r}
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeNamedPipe != 0 {
			if rc, err := f.SyscallConn(); err == nil {
				t.pipe = rc
			}
		}
	}
	return t
}

type tee struct {
	s    *Spool
	r    io.Reader
	pipe syscall.RawConn // r, when it is a pipe splice(2) can read
}

func (t *tee) Read(p []byte) (int, error) {
	s := t.s
	s.mu.Lock()
	for !s.closed && s.end-s.committed >= s.max {
		s.room.Wait()
	}
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return 0, io.EOF
	}
	// The file and its end are the reader's own: Commit and prune never
	// touch the segment being written.
	if t.pipe != nil {
		n, err := t.splice(p)
		if !errors.Is(err, syscall.EINVAL) {
			return n, err
		}
		t.pipe = nil // this file system cannot take a splice: read and write
	}
	n, err := t.r.Read(p)
	if n > 0 {
		if _, werr := s.file.WriteAt(p[:n], s.end-s.fileStart); werr != nil {
			return 0, fmt.Errorf("spool: %w", werr)
		}
		if werr := s.written(n); werr != nil {
			return 0, fmt.Errorf("spool: %w", werr)
		}
	}
	return n, err
}

// splice moves up to len(p) bytes from the pipe to the end of the
// segment, then reads them back into p.
func (t *tee) splice(p []byte) (int, error) {
	s := t.s
	var moved int64
	var serr error
	at := s.end - s.fileStart // in the file, not in the stream
	off := at
	err := t.pipe.Read(func(fd uintptr) bool {
		moved, serr = syscall.Splice(int(fd), nil, s.fd, &off, len(p), 0)
		return !errors.Is(serr, syscall.EAGAIN)
	})
	if err == nil {
		err = serr
	}
	if errors.Is(err, syscall.EINTR) {
		return 0, nil // the caller reads again
	}
	if err != nil {
		return 0, err
	}
	if moved == 0 {
		return 0, io.EOF
	}
	n := int(moved)
	if _, err := s.file.ReadAt(p[:n], at); err != nil {
		return 0, fmt.Errorf("spool: reading back what was spliced: %w", err)
	}
	if err := s.written(n); err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	return n, nil
}

// written syncs n new bytes at the end of the segment and counts them in.
func (s *Spool) written(n int) error {
	// In the file, the bytes survive our SIGKILL; synced, a machine crash.
	if err := s.file.Sync(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.end += int64(n)
	if s.end-s.fileStart >= segmentSize {
		return s.rotate()
	}
	return nil
}

// Commit records that everything before offset is in Redis, and deletes
// the segments that holds wholly. Call it from one goroutine.
func (s *Spool) Commit(offset int64) error {
	s.mu.Lock()
	if offset <= s.committed {
		s.mu.Unlock()
		return nil
	}
	offset = min(offset, s.end)
	s.mu.Unlock()
	// The file is written without the lock: reading stdin into the
	// spool does not wait for these syncs.
	if err := writeDurably(s.dir, "committed", []byte(strconv.FormatInt(offset, 10)+"\n")); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Only now: should the write fail, the space is not given back and
	// the segments stay.
	s.committed = offset
	s.room.Broadcast()
	return s.prune()
}

// prune deletes segments that end at or before the committed offset,
// keeping the one being appended to.
func (s *Spool) prune() error {
	for len(s.segs) > 1 && s.segs[1].start <= s.committed {
		if err := os.Remove(s.segs[0].path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		s.segs = s.segs[1:]
	}
	return nil
}

// Close wakes a waiting reader, closes the files and gives the directory
// up to the next process.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.room.Broadcast()
	var err error
	if s.file != nil {
		err = s.file.Close()
	}
	if s.lock != nil {
		s.lock.Close() // releases the flock
	}
	return err
}
