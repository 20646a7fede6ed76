package lineprotocol

// NoCopy turns the copy of canonical payloads off: every payload is
// decoded and encoded, the reference the copy is held to.
func (r *Rewriter) NoCopy() { r.nanos = false }

// CopyCanonical is copyCanonical, for the tests of package
// lineprotocol_test.
func (r *Rewriter) CopyCanonical(buf, payload []byte) ([]byte, bool) {
	return r.copyCanonical(buf, payload)
}
