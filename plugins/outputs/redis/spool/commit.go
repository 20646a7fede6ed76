package spool

import (
	"errors"
	"os"
	"strconv"
)

// Commits: what is in Redis is recorded, and the segments it holds wholly
// are deleted.

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
				s.Log.Errorf("spool_dir %s: cannot write the commit file: %v; what is in Redis is deleted from the spool all the same, "+
					"and until the commit file can be written a restart writes again all the spool holds (at least once)", s.dir, err)
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
