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
			_ = t.input.UnreadByte()
			err = t.escape()
		case '\'':
			_ = t.input.UnreadByte()
			if t.hasNQuotes(c, 3) {
				err = t.tripleSingleQuote()
			} else {
				err = t.singleQuote()
			}
		case '"':
			_ = t.input.UnreadByte()
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

// hasNQuotes looks ahead for limit quote characters without consuming them.
//
// Unlike Telegraf's, it steps back over the non-matching character only
// when there was one: stepping back at the end of the input as well made
// Telegraf's loop forever on a file ending in an unterminated triple-quoted
// literal string and a single quote (found by FuzzDecode).
func (t *trimmer) hasNQuotes(ref byte, limit int64) bool {
	var count int64
	for count = 0; count < limit; count++ {
		c, err := t.input.ReadByte()
		if err != nil {
			break
		}
		if c != ref {
			_ = t.input.UnreadByte()
			break
		}
	}
	_, _ = t.input.Seek(-count, io.SeekCurrent)
	return count >= limit
}

func (t *trimmer) readWriteByte() (byte, error) {
	c, err := t.input.ReadByte()
	if err != nil {
		return 0, err
	}
	return c, t.output.WriteByte(c)
}

func (t *trimmer) escape() error {
	_, _ = t.readWriteByte() // the backslash
	_, err := t.readWriteByte()
	return err
}

func (t *trimmer) singleQuote() error {
	_, _ = t.readWriteByte()
	for {
		if c, err := t.readWriteByte(); err != nil || c == '\'' || c == '\n' {
			return err
		}
	}
}

func (t *trimmer) tripleSingleQuote() error {
	for i := 0; i < 3; i++ {
		_, _ = t.readWriteByte()
	}
	for {
		c, err := t.readWriteByte()
		if err != nil {
			return err
		}
		if c == '\'' && t.hasNQuotes('\'', 2) {
			_, _ = t.readWriteByte()
			_, _ = t.readWriteByte()
			return nil
		}
	}
}

func (t *trimmer) doubleQuote() error {
	_, _ = t.readWriteByte()
	for {
		c, err := t.input.ReadByte()
		if err != nil {
			return err
		}
		switch c {
		case '\\':
			_ = t.input.UnreadByte()
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
	for i := 0; i < 3; i++ {
		_, _ = t.readWriteByte()
	}
	for {
		c, err := t.input.ReadByte()
		if err != nil {
			return err
		}
		switch c {
		case '\\':
			_ = t.input.UnreadByte()
			if err := t.escape(); err != nil {
				return err
			}
			continue
		case '"':
			t.output.WriteByte(c)
			if t.hasNQuotes('"', 2) {
				_, _ = t.readWriteByte()
				_, _ = t.readWriteByte()
				return nil
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
