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
//
// A full file system (ENOSPC, EDQUOT) is back-pressure, never an error:
// stdin is no longer read while the data held is not in Redis, bytes that
// were read and found no room are kept in memory (and handed on) until
// they are, and once everything read is in Redis the segments are given
// back to the file system. Opening writes nothing that a full disk would
// refuse before the data held is replayed, and a commit file that cannot be
// written does not keep what is in Redis from being deleted.
package spool

import (
	"bytes"
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
	"time"
)

// segmentSize is the size at which a new segment file is started; a
// variable so that tests can make segments small.
var segmentSize int64 = 16 << 20

// minSegment bounds from below a segment on a small file system, where a
// segment is at most an eighth of the free space (see segmentLimit).
const minSegment = 16 << 10

// roomRetry is how often a spool that found no room tries again.
var roomRetry = time.Second

// Logger takes the lines the spool logs while it runs (Telegraf's Logger
// is one).
type Logger interface {
	Errorf(format string, args ...interface{})
	Warnf(format string, args ...interface{})
	Infof(format string, args ...interface{})
}

// NoRoom tells whether err is a file system that is full (ENOSPC) or a
// quota that is used up (EDQUOT).
func NoRoom(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// Spool is one spool directory, used by one process at a time.
type Spool struct {
	dir  string
	max  int64
	lock *os.File // flock'd while open

	// Notes are what Open recovered from or changed, for W!/I! lines.
	Notes []string
	// Log, when set, takes what happens later: no room on the disk, and
	// room again; a commit file that cannot be written.
	Log Logger

	mu        sync.Mutex
	room      *sync.Cond
	segs      []segment // oldest first; the last is appended to
	file      *os.File  // the last segment, written at end; nil when it could not be made
	fileStart int64     // the offset of file's first byte
	fd        int       // file's descriptor, for splice
	limit     int64     // the size at which the last segment is rotated
	end       int64     // offset after the last byte
	committed int64     // everything before this is in Redis
	closed    bool
	fault     error // a segment could not be started, not for room: for the reader

	// mem holds the bytes [end-len(mem), end): read and handed on, but
	// not on disk (there was no room). They go to disk before any later
	// byte. The reader's own, changed under mu.
	mem []byte
	// lineEnd is the offset after the last newline read: once committed
	// reaches it, everything read is in Redis but an unfinished line.
	lineEnd int64
	// destPending is the destination record when Open found no room to
	// write it: it is written before the first byte.
	destPending string

	full         bool      // the reader's last write found no room
	commitNoRoom bool      // the last commit file found no room
	commitErr    string    // the last commit file's other failure, "" when written
	fullSince    time.Time // since when the disk has had no room; zero when it has
	saidFull     bool      // the W! of no room was logged (and the I! not yet)
	roomErr      error     // the last write that found no room
	gen          int       // bumped by a commit and by roomRetry: wakes a reader waiting for room
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
	// Written over the old pid, then cut: on a full disk, a block the file
	// already has takes it. Should it not fit, the lock holds all the same.
	holder := []byte(fmt.Sprintf("pid %d on %s\n", os.Getpid(), host))
	if _, err := lock.WriteAt(holder, 0); err == nil {
		_ = lock.Truncate(int64(len(holder)))
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
		s.Notes = append(s.Notes, fmt.Sprintf("W! spool %s: the commit file is empty or torn: replaying all %d bytes held from their start (what was already in Redis is written again: at least once)", dir, s.end-first))
	case len(s.segs) == 0:
		s.committed, s.end = committed, committed
	case committed > s.end:
		// Never written so by this program: the file is not to be
		// trusted, and taking it would drop what is held.
		s.committed = first
		s.Notes = append(s.Notes, fmt.Sprintf("W! spool %s: the commit file says %d, past the end of the data held (%d): taken as torn, replaying all %d bytes held from their start (what was already in Redis is written again: at least once)", dir, committed, s.end, s.end-first))
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
				_ = f.Truncate(size)
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
	if perr != nil || offset < 0 || !strings.HasSuffix(string(data), "\n") {
		return 0, false, nil
	}
	return offset, true, nil
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
		s.Notes = append(s.Notes, fmt.Sprintf("W! spool %s records no destination (made by an older version): its %d bytes go to %s", s.dir, held, oneLine(destination)))
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

// segmentLimit is the size of the segment started now: segmentSize, but
// on a small file system an eighth of its free space (at least
// minSegment), so that what is in Redis goes back to it segment by
// segment rather than only once the spool is drained.
func (s *Spool) segmentLimit() int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return segmentSize
	}
	free := int64(st.Bavail) * st.Bsize
	return min(segmentSize, max(minSegment, free/8))
}

// rotate starts a new segment where the data on disk ends; mu is held
// (or the spool is not yet shared). On an error nothing changed.
func (s *Spool) rotate() error {
	start := s.end - int64(len(s.mem))
	path := filepath.Join(s.dir, fmt.Sprintf("seg-%020d.log", start))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	// The new name must survive a crash of the machine with the bytes
	// that will be synced into it.
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return err
	}
	if s.file != nil {
		s.file.Close()
	}
	s.file, s.fd, s.fileStart = f, int(f.Fd()), start
	if n := len(s.segs); n == 0 || s.segs[n-1].start != start {
		s.segs = append(s.segs, segment{start: start, path: path})
	}
	s.limit = s.segmentLimit()
	return nil
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

// Unspooled is the number of lines read that are neither in Redis nor on
// disk (no room): what stopping now loses. A line begun is counted.
func (s *Spool) Unspooled() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.mem[max(0, s.committed-(s.end-int64(len(s.mem)))):]
	n := int64(bytes.Count(b, []byte{'\n'}))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// Replay reads what a previous run left: from the committed offset to
// the end, across segments. Each segment file is closed once read, so
// that a deleted one gives its room back. Close it when done.
func (s *Spool) Replay() (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &replay{}
	disk := s.end - int64(len(s.mem))
	for i, seg := range s.segs {
		segEnd := disk
		if i+1 < len(s.segs) {
			segEnd = s.segs[i+1].start
		}
		if segEnd <= s.committed {
			continue
		}
		f, err := os.Open(seg.path)
		if err != nil {
			r.Close()
			return nil, err
		}
		from := max(0, s.committed-seg.start)
		r.parts = append(r.parts, replayPart{io.NewSectionReader(f, from, segEnd-seg.start-from), f})
	}
	if tail := s.mem[max(0, s.committed-disk):]; len(tail) > 0 {
		r.parts = append(r.parts, replayPart{bytes.NewReader(bytes.Clone(tail)), nil})
	}
	return r, nil
}

type replay struct {
	parts []replayPart
}

type replayPart struct {
	r io.Reader
	f *os.File // closed once r is read
}

func (r *replay) Read(p []byte) (int, error) {
	for len(r.parts) > 0 {
		n, err := r.parts[0].r.Read(p)
		if err == io.EOF {
			if f := r.parts[0].f; f != nil {
				f.Close()
			}
			r.parts = r.parts[1:]
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.EOF
}

func (r *replay) Close() error {
	for _, part := range r.parts {
		if part.f != nil {
			part.f.Close()
		}
	}
	r.parts = nil
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
//
// When the disk has no room: from a pipe, the bytes stay in it, and
// nothing more is read until there is room or everything read is in Redis;
// read, then written, they are kept in memory and handed on, and nothing
// more is read until they are on disk or in Redis. Once everything read is
// in Redis (but an unfinished line), the segments are deleted to make
// room; if there is none all the same (the disk is full of something
// else), stdin is read into memory, one read at a time, each going on
// once the last is in Redis. Either way stdin is read no faster than Redis
// takes it, and only what is in memory is at risk (a crash loses it).
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
	wait bool            // no room: wait for a commit after waitGen, or roomRetry, before trying again
	err  error           // a failed write, returned once its bytes are handed on
	// waitGen is the spool's gen when the spool was found not drained.
	waitGen int
}

func (t *tee) Read(p []byte) (int, error) {
	s := t.s
	for {
		if !s.waitTurn(t.wait, t.waitGen) {
			return 0, io.EOF
		}
		t.wait = false
		if t.err == nil {
			t.err = s.takeFault()
		}
		if t.err != nil {
			return 0, t.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		if s.isFull() && s.drained() {
			s.compact()
		}
		// Bytes held in memory go to disk first; the file and its end
		// are the reader's own (Commit and prune never touch the segment
		// being written).
		if held, unsettled := s.unsettled(); unsettled {
			if err := s.store(nil); err != nil {
				if !NoRoom(err) {
					t.err = fmt.Errorf("spool: %w", err)
					return 0, t.err
				}
				s.noRoom(err)
				if drained, gen := s.drainedAt(); !drained {
					t.wait, t.waitGen = true, gen
					continue
				}
				return t.readThrough(p)
			}
			if held {
				s.roomAgain()
			}
		}
		if t.pipe == nil {
			return t.readThrough(p)
		}
		n, err := t.splice(p)
		switch {
		case errors.Is(err, syscall.EINVAL):
			t.pipe = nil // this file system cannot take a splice: read and write
			continue
		case NoRoom(err):
			// Nothing left the pipe.
			s.noRoom(err)
			drained, gen := s.drainedAt()
			switch {
			case !drained:
				t.wait, t.waitGen = true, gen
			case s.compact():
				// Room given back: splice again.
			default:
				return t.readThrough(p)
			}
			continue
		case n > 0:
			s.roomAgain()
		}
		return n, err
	}
}

// readThrough reads from r and stores what it read: on disk, or in
// memory when there is no room. Either way it is handed on.
func (t *tee) readThrough(p []byte) (int, error) {
	s := t.s
	n, err := t.r.Read(p)
	if n > 0 {
		switch serr := s.store(p[:n]); {
		case serr == nil:
			s.roomAgain()
		case NoRoom(serr):
			s.noRoom(serr)
		default:
			t.err = fmt.Errorf("spool: %w", serr)
		}
	}
	return n, err
}

// splice moves up to len(p) bytes from the pipe to the end of the
// segment, then reads them back into p. Nothing is in memory (mem).
func (t *tee) splice(p []byte) (int, error) {
	s := t.s
	var moved int64
	var serr error
	at := s.end - s.fileStart
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
	// In the file, the bytes survive our SIGKILL; synced, a machine crash.
	if err := s.file.Sync(); err != nil {
		// Out of the pipe, and not surely on disk: ours, in memory.
		_ = s.file.Truncate(at)
		if !NoRoom(err) {
			t.err = fmt.Errorf("spool: %w", err)
		} else {
			s.noRoom(err)
		}
		s.added(p[:n], false)
		return n, nil
	}
	s.added(p[:n], true)
	return n, nil
}

// waitTurn waits while the spool holds max bytes not in Redis and, after
// a write found no room (afterNoRoom), for a commit after gen or for
// roomRetry. It returns false once the spool is closed.
func (s *Spool) waitTurn(afterNoRoom bool, gen int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.closed && s.end-s.committed >= s.max {
		s.room.Wait()
	}
	if afterNoRoom && !s.closed && s.gen == gen {
		timer := time.AfterFunc(roomRetry, func() {
			s.mu.Lock()
			s.gen++
			s.room.Broadcast()
			s.mu.Unlock()
		})
		for !s.closed && s.gen == gen {
			s.room.Wait()
		}
		timer.Stop()
	}
	return !s.closed
}

func (s *Spool) isFull() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.full }

// drained tells whether everything read is in Redis, but for an
// unfinished line.
func (s *Spool) drained() bool {
	d, _ := s.drainedAt()
	return d
}

// drainedAt is drained, and the gen it was found at: a commit after it
// changes gen.
func (s *Spool) drainedAt() (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed >= s.lineEnd, s.gen
}

// unsettled tells whether something must be written before stdin's next
// bytes (bytes held in memory, the destination record, a segment file),
// and whether bytes are held.
func (s *Spool) unsettled() (held, unsettled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mem) > 0, len(s.mem) > 0 || s.destPending != "" || s.file == nil
}

// takeFault returns, once, a failure to start a new segment that is not
// for room: reading ends with it.
func (s *Spool) takeFault() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.fault
	s.fault = nil
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// store writes what is held in memory, then b (bytes read from stdin
// and handed on), at the end of the data on disk, synced. What finds no
// room, or fails, stays in memory, in order: the error says why.
func (s *Spool) store(b []byte) error {
	err := s.settle()
	n := 0
	if err == nil && len(b) > 0 {
		n, err = s.writeAt(b)
	}
	s.added(b[:n], true)
	s.added(b[n:], false)
	return err
}

// settle writes the destination record if it is pending, makes a segment
// if there is none, and writes the bytes held in memory.
func (s *Spool) settle() error {
	s.mu.Lock()
	dest, mem := s.destPending, s.mem
	s.mu.Unlock()
	if dest != "" {
		if err := writeDurably(s.dir, "destination", []byte(dest)); err != nil {
			return err
		}
		s.mu.Lock()
		s.destPending = ""
		s.mu.Unlock()
	}
	if s.file == nil {
		s.mu.Lock()
		err := s.rotate()
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
	if len(mem) == 0 {
		return nil
	}
	n, err := s.writeAt(mem)
	s.mu.Lock()
	s.mem = s.mem[n:]
	if len(s.mem) == 0 {
		s.mem = nil
	}
	s.mu.Unlock()
	return err
}

// writeAt writes b where the data on disk ends, and syncs it. It returns
// how many bytes are on disk: on no room, what fitted; on an error of the
// sync, none (the file is cut back to where it was).
func (s *Spool) writeAt(b []byte) (int, error) {
	at := s.end - int64(len(s.mem)) - s.fileStart
	n, err := pwrite(s.fd, b, at)
	if err != nil {
		err = &os.PathError{Op: "write", Path: s.file.Name(), Err: err}
	}
	if n > 0 {
		// In the file, the bytes survive our SIGKILL; synced, a crash of
		// the machine.
		if serr := s.file.Sync(); serr != nil {
			n, err = 0, serr
		}
	}
	if err != nil && !NoRoom(err) {
		n = 0
	}
	if n < len(b) {
		_ = s.file.Truncate(at + int64(n))
	}
	return n, err
}

// pwrite writes b at off. Unlike os.File.WriteAt, it tells how much was
// written when a write falls short and the next one fails (no room): that
// much is on disk.
func pwrite(fd int, b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		m, err := syscall.Pwrite(fd, b[n:], off+int64(n))
		if m > 0 {
			n += m
		}
		switch {
		case errors.Is(err, syscall.EINTR):
		case err != nil:
			return n, err
		case m == 0:
			return n, io.ErrShortWrite
		}
	}
	return n, nil
}

// added counts in b, handed on to the reader: on disk, or (onDisk false)
// kept in memory until it can be. A full segment is rotated.
func (s *Spool) added(b []byte, onDisk bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !onDisk {
		s.mem = append(s.mem, b...)
	}
	s.end += int64(len(b))
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		s.lineEnd = s.end - int64(len(b)) + int64(i) + 1
	}
	if len(s.mem) == 0 && s.file != nil && s.end-s.fileStart >= s.limit {
		// Without room for a new file, this one grows: tried again at
		// the next write.
		if err := s.rotate(); err != nil && !NoRoom(err) {
			s.fault = err
		}
	}
}

// compact gives the room of what is in Redis back to the disk, when it is
// full and everything read is in Redis but an unfinished line: prune keeps
// the segment being written to, and on a small file system that one can
// hold all the room there is. Every segment is deleted; the unfinished
// line (read, not yet whole) is kept in memory and written to a new
// segment at the commit. It tells whether any room was given back. The
// reader's.
func (s *Spool) compact() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	disk := s.end - int64(len(s.mem))
	if s.committed < s.lineEnd || len(s.segs) == 0 || (len(s.segs) == 1 && min(s.committed, disk) <= s.segs[0].start) {
		return false // not drained, or nothing in Redis on disk
	}
	var tail []byte
	if s.committed < disk {
		var err error
		if tail, err = s.read(s.committed, disk); err != nil {
			return false
		}
	}
	tail = append(tail, s.mem[max(0, s.committed-disk):]...)
	for len(s.segs) > 0 {
		if err := os.Remove(s.segs[0].path); err != nil && !errors.Is(err, os.ErrNotExist) {
			// The rest stays as it was (the file still open, its end on
			// disk): only segments before it went.
			return true
		}
		s.segs = s.segs[1:]
	}
	s.file.Close()
	s.file = nil
	// Everything before the commit is in Redis, and was on disk only in
	// the segments deleted: should the commit file be older (it could not
	// be written), a restart starts at the first segment held all the
	// same.
	s.mem = tail
	s.end = s.committed + int64(len(tail))
	return true
}

// read returns the bytes [from, to) held on disk; mu is held.
func (s *Spool) read(from, to int64) ([]byte, error) {
	out := make([]byte, 0, to-from)
	for i, seg := range s.segs {
		segEnd := to
		if i+1 < len(s.segs) {
			segEnd = min(to, s.segs[i+1].start)
		}
		if segEnd <= from || seg.start >= to {
			continue
		}
		f, err := os.Open(seg.path)
		if err != nil {
			return nil, err
		}
		lo := max(from, seg.start)
		b := make([]byte, segEnd-lo)
		_, err = f.ReadAt(b, lo-seg.start)
		f.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

// noRoom is the reader's write that found no room: said once (with the
// commit file's), until there is room again.
func (s *Spool) noRoom(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.full = true
	s.sayRoom(err)
}

// roomAgain is the reader's write that went through: with nothing left in
// memory, the disk has room again.
func (s *Spool) roomAgain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.full && len(s.mem) == 0 {
		s.full = false
		s.sayRoom(nil)
	}
}

// sayRoom logs a time without room on the disk, whichever of the reader
// and the commit file found it: once, when it starts to matter (bytes are
// held in memory, or there has been no room for roomRetry: longer than
// Redis's next write takes to give it back, so Redis is away or the disk
// is full of something else), and once more when both have room again.
// A wait that the next write ends is back-pressure like any other, and
// says nothing. mu is held.
func (s *Spool) sayRoom(err error) {
	if err != nil {
		s.roomErr = err
	}
	out := s.full || s.commitNoRoom
	switch {
	case out && s.fullSince.IsZero():
		s.fullSince = time.Now()
	case !out && !s.fullSince.IsZero():
		if s.saidFull && s.Log != nil {
			s.Log.Infof("spool_dir %s has room again after %s: stdin is spooled as before", s.dir, time.Since(s.fullSince).Round(time.Millisecond))
		}
		s.saidFull, s.fullSince = false, time.Time{}
	}
	if out && !s.saidFull && (len(s.mem) > 0 || time.Since(s.fullSince) >= roomRetry) {
		s.saidFull = true
		if s.Log != nil {
			s.Log.Warnf("spool_dir %s is full (%v): stdin is read no faster than Redis takes it; what is read while there is no room is kept in memory, not on disk, "+
				"until it is in Redis (a crash before then loses it), and a restart before the commit file is written again writes again all the spool holds (at least once)", s.dir, s.roomErr)
		}
	}
}

// Commit records that everything before offset is in Redis, and deletes
// the segments that holds wholly. Call it from one goroutine. Should the
// commit file not be written, the commit stands all the same (the bytes
// are in Redis): it is said once, and the error is not returned. Keeping
// the segments instead would keep the reader waiting for room that only
// this commit can give (on a full disk, the commit file needs room too),
// and deleting them is safe: a restart finds the commit file before the
// first segment held, and replays from there (at least once).
func (s *Spool) Commit(offset int64) error {
	s.mu.Lock()
	if offset <= s.committed {
		s.mu.Unlock()
		return nil
	}
	offset = min(offset, s.end)
	// The file never points past the data on disk: bytes held in memory
	// are not there after a restart.
	durable := min(offset, s.end-int64(len(s.mem)))
	s.mu.Unlock()
	// The file is written without the lock: reading stdin into the
	// spool does not wait for these syncs.
	err := writeDurably(s.dir, "committed", []byte(strconv.FormatInt(durable, 10)+"\n"))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed = max(s.committed, offset)
	s.gen++
	s.room.Broadcast()
	s.commitWritten(err)
	return s.prune()
}

// commitWritten says what became of the commit file; mu is held.
func (s *Spool) commitWritten(err error) {
	switch {
	case NoRoom(err):
		s.commitNoRoom = true
		s.sayRoom(err)
	case err != nil:
		if msg := err.Error(); msg != s.commitErr {
			s.commitErr = msg
			if s.Log != nil {
				s.Log.Errorf("spool_dir %s: cannot write the commit file: %v; what is in Redis is deleted from the spool all the same, and until the commit file can be written a restart writes again all the spool holds (at least once)", s.dir, err)
			}
		}
	default:
		if s.commitErr != "" {
			s.commitErr = ""
			if s.Log != nil {
				s.Log.Infof("spool_dir %s: the commit file is written again", s.dir)
			}
		}
		if s.commitNoRoom {
			s.commitNoRoom = false
			s.sayRoom(nil)
		}
	}
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
	if s.commitNoRoom || s.commitErr != "" {
		// One more try: a restart then replays less.
		durable := min(s.committed, s.end-int64(len(s.mem)))
		s.commitWritten(writeDurably(s.dir, "committed", []byte(strconv.FormatInt(durable, 10)+"\n")))
	}
	var err error
	if s.file != nil {
		err = s.file.Close()
	}
	if s.lock != nil {
		s.lock.Close() // releases the flock
	}
	return err
}
