package config

import (
	"bytes"
	"errors"
	"io"
)

// removeComments strips TOML comments before environment variables are
// substituted, as Telegraf 1.37 does (config/envvar.go, whose trimmer this
// is a port of: that one is unexported). A "#" inside a string is kept,
// and so is every newline, so line numbers stay those of the file.
func removeComments(buf []byte) ([]byte, error) {
	t := &trimmer{input: bytes.NewReader(buf)}
	err := t.process()
	return t.output.Bytes(), err
}

type trimmer struct {
	input  *bytes.Reader
	output bytes.Buffer
}

func (t *trimmer) process() error {
	for {
		c, err := t.input.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch c {
		case '\\':
			if err := t.input.UnreadByte(); err != nil {
				return err
			}
			err = t.escape()
		case '\'':
			if err := t.input.UnreadByte(); err != nil {
				return err
			}
			if t.hasNQuotes(c, 3) {
				err = t.tripleSingleQuote()
			} else {
				err = t.singleQuote()
			}
		case '"':
			if err := t.input.UnreadByte(); err != nil {
				return err
			}
			if t.hasNQuotes(c, 3) {
				err = t.tripleDoubleQuote()
			} else {
				err = t.doubleQuote()
			}
		case '#':
			err = t.comment()
		default:
			t.output.WriteByte(c)
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// hasNQuotes tells whether the next limit (at most 3) characters are all
// ref, without consuming them: ReadAt leaves the reader where it is.
//
// Unlike Telegraf's, it never steps back: Telegraf's stepped back over a
// non-matching character at the end of the input as well, and looped
// forever on a file ending in an unterminated triple-quoted literal
// string and a single quote (found by FuzzDecode).
func (t *trimmer) hasNQuotes(ref byte, limit int) bool {
	var next [3]byte
	n, err := t.input.ReadAt(next[:limit], t.input.Size()-int64(t.input.Len()))
	if err != nil || n < limit {
		return false
	}
	for _, c := range next[:limit] {
		if c != ref {
			return false
		}
	}
	return true
}

func (t *trimmer) readWriteByte() (byte, error) {
	c, err := t.input.ReadByte()
	if err != nil {
		return 0, err
	}
	return c, t.output.WriteByte(c)
}

func (t *trimmer) escape() error {
	return t.copyBytes(2) // the backslash and the character it escapes
}

// copyBytes copies the next n bytes to the output.
func (t *trimmer) copyBytes(n int) error {
	for range n {
		if _, err := t.readWriteByte(); err != nil {
			return err
		}
	}
	return nil
}

func (t *trimmer) singleQuote() error {
	if err := t.copyBytes(1); err != nil {
		return err
	}
	for {
		if c, err := t.readWriteByte(); err != nil || c == '\'' || c == '\n' {
			return err
		}
	}
}

func (t *trimmer) tripleSingleQuote() error {
	if err := t.copyBytes(3); err != nil {
		return err
	}
	for {
		c, err := t.readWriteByte()
		if err != nil {
			return err
		}
		if c == '\'' && t.hasNQuotes('\'', 2) {
			return t.copyBytes(2)
		}
	}
}

func (t *trimmer) doubleQuote() error {
	if err := t.copyBytes(1); err != nil {
		return err
	}
	for {
		c, err := t.input.ReadByte()
		if err != nil {
			return err
		}
		switch c {
		case '\\':
			if err := t.input.UnreadByte(); err != nil {
				return err
			}
			if err := t.escape(); err != nil {
				return err
			}
			continue
		case '"', '\n':
			return t.output.WriteByte(c)
		}
		t.output.WriteByte(c)
	}
}

func (t *trimmer) tripleDoubleQuote() error {
	if err := t.copyBytes(3); err != nil {
		return err
	}
	for {
		c, err := t.input.ReadByte()
		if err != nil {
			return err
		}
		switch c {
		case '\\':
			if err := t.input.UnreadByte(); err != nil {
				return err
			}
			if err := t.escape(); err != nil {
				return err
			}
			continue
		case '"':
			t.output.WriteByte(c)
			if t.hasNQuotes('"', 2) {
				return t.copyBytes(2)
			}
			continue
		}
		t.output.WriteByte(c)
	}
}

func (t *trimmer) comment() error {
	for {
		c, err := t.input.ReadByte()
		if err != nil {
			return err
		}
		if c == '\n' {
			return t.output.WriteByte(c)
		}
	}
}
