package crypto

import "io"

// slicesReader reads its slices one after the other, as io.MultiReader of
// bytes.Readers does. Its WriteTo writes each slice whole, so that io.Copy
// from it needs no buffer: io.MultiReader's allocates 32 KiB for every
// copy, and signing copies the signed part into the hash (twice a report).
type slicesReader [][]byte

func (r *slicesReader) Read(p []byte) (int, error) {
	for len(*r) > 0 && len((*r)[0]) == 0 {
		*r = (*r)[1:]
	}
	if len(*r) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*r)[0])
	(*r)[0] = (*r)[0][n:]
	return n, nil
}

func (r *slicesReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for len(*r) > 0 {
		n, err := w.Write((*r)[0])
		total += int64(n)
		(*r)[0] = (*r)[0][n:]
		if err != nil {
			return total, err
		}
		*r = (*r)[1:]
	}
	return total, nil
}
