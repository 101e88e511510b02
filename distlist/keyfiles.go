package distlist

// KeyFiles is what the directories of one process share of the keys they
// check: the parsed key of each distinct content. The projects of one
// process name the same distributors, with the same key files, and parsing
// a key verifies each of its binding signatures; with KeyFiles each
// distinct file is parsed once for all of them. A key is known by a hash
// of its content, so a file that changed is parsed anew, and what the
// checks of a key depend on besides its content (the address it is
// configured for, the time: a key that expired since) is checked at every
// sync, as without it. A parsed key is public and immutable, so sharing
// one gives no directory anything of another's.
type KeyFiles struct{ c *keyCache }

// NewKeyFiles returns an empty KeyFiles.
func NewKeyFiles() *KeyFiles { return &KeyFiles{c: newKeyCache()} }

// ShareKeyFiles makes d parse the keys it checks (Sync's key files, keys
// imported or added) through kf. Call it before d is used.
func (d *Directory) ShareKeyFiles(kf *KeyFiles) { d.files = kf.c }
