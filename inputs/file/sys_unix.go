//go:build unix

package file

import (
	"io/fs"
	"os"
	"syscall"
)

// openFlags open a path without blocking if it turned into a FIFO since it was checked.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_CLOEXEC

// fileID returns the device, inode and link count of fi.
func fileID(fi fs.FileInfo) (dev, ino, nlink uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino), uint64(st.Nlink)
	}
	return 0, 0, 1
}
