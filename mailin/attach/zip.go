package attach

import (
	"archive/zip"
	"bytes"
	"io"
	"path"
	"strings"
)

// Bounds of the archive check: how deep zips inside zips are opened, how
// many bytes of one inner zip are read, and how many members are looked
// at in all (a zip of a million names is not checked: it is dropped).
const (
	maxZipDepth       = 2
	maxInnerZipBytes  = 16 << 20
	maxZipMembers     = 10000
	zipLocalSignature = "PK\x03\x04"
)

// zipTypes are the media types clients give zip archives.
var zipTypes = setOf("application/zip", "application/x-zip", "application/x-zip-compressed", "multipart/x-zip")

// isZip reports whether a file is to be checked as a zip archive: by its
// name, its media type, or its content (a zip saved under another name,
// which the recipient's system may still open as one). Office documents
// (docx, xlsx, odt, epub…) are zips too; their members are documents.
func isZip(name, ct string, data []byte) bool {
	return strings.EqualFold(path.Ext(name), ".zip") || zipTypes[ct] || bytes.HasPrefix(data, []byte(zipLocalSignature))
}

// checkZip returns why the zip archive data, found depth levels deep, is
// dropped (ArchivedProgram with the member's name, or Unchecked), or 0.
// Only the archive's directory is read, except for zips inside it, which
// are decompressed (within maxInnerZipBytes) and checked in turn.
func checkZip(data []byte, depth int) (Reason, string) {
	r, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(r.File) > maxZipMembers {
		return Unchecked, ""
	}
	for _, f := range r.File {
		name := Normalize(path.Base(strings.ReplaceAll(f.Name, "\\", "/")))
		if f.FileInfo().IsDir() {
			continue
		}
		if f.Flags&0x1 != 0 {
			return Unchecked, "" // encrypted: its contents cannot be read
		}
		if Dangerous(name) {
			return ArchivedProgram, name
		}
		if !strings.EqualFold(path.Ext(name), ".zip") {
			continue
		}
		if why, member := checkInnerZip(f, depth+1); why != 0 {
			return why, member
		}
	}
	return 0, ""
}

// checkInnerZip checks the zip member f, an archive depth levels deep.
func checkInnerZip(f *zip.File, depth int) (Reason, string) {
	if depth >= maxZipDepth || f.UncompressedSize64 > maxInnerZipBytes {
		return Unchecked, ""
	}
	rc, err := f.Open()
	if err != nil {
		return Unchecked, ""
	}
	defer rc.Close()
	inner, err := io.ReadAll(io.LimitReader(rc, maxInnerZipBytes+1))
	if err != nil || len(inner) > maxInnerZipBytes {
		return Unchecked, ""
	}
	return checkZip(inner, depth)
}
