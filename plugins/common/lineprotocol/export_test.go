package lineprotocol

// NoCopy turns the copy of canonical payloads off: every payload is
// decoded and encoded, the reference the copy is held to.
func (r *Rewriter) NoCopy() { r.nanos = false }

// TryCopyCanonical is copyCanonical, for the tests of package
// lineprotocol_test.
func (r *Rewriter) TryCopyCanonical(buf, payload []byte) ([]byte, bool) {
	return r.copyCanonical(buf, payload)
}
