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
)

// segmentSize is when a new segment file is started.
const segmentSize = 16 << 20

// Spool is one spool directory, used by one process at a time.
type Spool struct {
	dir string
	max int64

	mu        sync.Mutex
	room      *sync.Cond
	segs      []segment // oldest first; the last is appended to
	file      *os.File  // the last segment, open for appending
	end       int64     // offset after the last byte
	committed int64     // everything before this is in Redis
	closed    bool
}

type segment struct {
	start int64
	path  string
}

// Open opens (or creates) the spool in dir. max bounds the bytes held
// that are not yet in Redis: past it, reading stdin waits.
func Open(dir string, max int64) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, max: max}
	s.room = sync.NewCond(&s.mu)
	if data, err := os.ReadFile(filepath.Join(dir, "committed")); err == nil {
		if s.committed, err = strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64); err != nil {
			return nil, fmt.Errorf("spool %s: bad committed file: %w", dir, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	names, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names) // zero-padded offsets sort in order
	for _, n := range names {
		start, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), "seg-"), ".log"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("spool %s: unexpected file %s", dir, n)
		}
		s.segs = append(s.segs, segment{start: start, path: n})
	}
	if len(s.segs) == 0 {
		s.end = s.committed
		return s, s.rotate()
	}
	last := s.segs[len(s.segs)-1]
	f, err := os.OpenFile(last.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	s.file, s.end = f, last.start+st.Size()
	// The process may have died halfway through a line: end it, so the
	// next bytes do not join it. The piece is replayed as a bad line.
	if st.Size() > 0 {
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, st.Size()-1); err == nil && b[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				return nil, err
			}
			s.end++
		}
	}
	if s.committed > s.end {
		s.committed = s.end
	}
	return s, s.prune()
}

// rotate starts a new segment at the current end.
func (s *Spool) rotate() error {
	path := filepath.Join(s.dir, fmt.Sprintf("seg-%020d.log", s.end))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if s.file != nil {
		s.file.Close()
	}
	s.file = f
	s.segs = append(s.segs, segment{start: s.end, path: path})
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
// synced, before handing it on; it waits while the spool is full.
func (s *Spool) Tee(r io.Reader) io.Reader { return &tee{s: s, r: r} }

type tee struct {
	s *Spool
	r io.Reader
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
	n, err := t.r.Read(p)
	if n > 0 {
		if werr := s.append(p[:n]); werr != nil {
			return 0, fmt.Errorf("spool: %w", werr)
		}
	}
	return n, err
}

func (s *Spool) append(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.file.Write(p); err != nil {
		return err
	}
	// Written, the bytes survive our SIGKILL; synced, a machine crash.
	if err := s.file.Sync(); err != nil {
		return err
	}
	s.end += int64(len(p))
	if s.end-s.segs[len(s.segs)-1].start >= segmentSize {
		return s.rotate()
	}
	return nil
}

// Commit records that everything before offset is in Redis, and deletes
// the segments that holds wholly.
func (s *Spool) Commit(offset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if offset <= s.committed {
		return nil
	}
	s.committed = min(offset, s.end)
	tmp := filepath.Join(s.dir, "committed.tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(s.committed, 10)+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "committed")); err != nil {
		return err
	}
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

// Close wakes a waiting reader and closes the files.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.room.Broadcast()
	if s.file != nil {
		return s.file.Close()
	}
	return nil
}
