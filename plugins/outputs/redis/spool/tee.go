package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// The tee: what is read from stdin goes to the spool, synced, before it is
// handed on; reading waits while the spool is full.

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
		s.file.Truncate(at) //nolint:errcheck // best effort: the bytes are written again at the same offset
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
