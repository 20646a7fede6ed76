package spool

import (
	"time"
)

// A full file system: said once when found, and once when there is room
// again.

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
			s.Log.Warnf("spool_dir %s is full (%v): stdin is read no faster than Redis takes it; "+
				"what is read while there is no room is kept in memory, not on disk, until it is in Redis (a crash before then loses it), "+
				"and a restart before the commit file is written again writes again all the spool holds (at least once)", s.dir, s.roomErr)
		}
	}
}
