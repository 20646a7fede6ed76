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
	"os"
	"strconv"
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
