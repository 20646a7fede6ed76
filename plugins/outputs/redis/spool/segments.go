package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// The log: segment files named by the offset of their first byte, written
// at the end and read back by replay.

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
		s.file.Truncate(at + int64(n)) //nolint:errcheck // best effort: the bytes past n are written again at the same offset
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
