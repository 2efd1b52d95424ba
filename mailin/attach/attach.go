// Package attach judges the attachments of a parsed message: which are
// kept with the post made from it and why the others are dropped. It is
// pure (no I/O, no text for people: the caller renders each Dropped's
// Reason) and safe for concurrent use.
//
// A file is dropped when it is a program, script, installer, shortcut or
// disk image (by its normalised name, media type or a Windows executable
// header), or a zip archive holding one (names read from the archive's
// directory; zips inside it opened one level deeper, within a size
// bound), or a zip that cannot be checked (unreadable, encrypted, nested
// deeper); when it is over the per-file limit; or when it would take the
// message's files over their total limit.
package attach

import (
	"bytes"
	"fmt"
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/postern/postern/mailin/parse"
)

// Kept is an attachment kept with the post: its cleaned name, media type,
// Content-ID and data. Inline is set for an inline part the HTML body
// refers to (cid:).
type Kept struct {
	Filename, ContentType, ContentID string
	Inline                           bool
	Data                             []byte
}

// Reason says why an attachment was dropped.
type Reason int

const (
	// Program: a program, script, installer, shortcut or disk image.
	Program Reason = iota + 1
	// ArchivedProgram: a zip archive that holds one (Member names it).
	ArchivedProgram
	// Unchecked: a zip archive that cannot be checked: unreadable,
	// encrypted, or with archives nested deeper than are opened.
	Unchecked
	// TooLarge: over the per-file limit.
	TooLarge
	// OverTotal: past the total limit of one message's files.
	OverTotal
)

// Dropped is an attachment that was not kept: its cleaned name, why, and
// for ArchivedProgram the name of the program inside the archive.
type Dropped struct {
	Name   string
	Reason Reason
	Member string
}

// Select decides which of m's attachments are kept, in message order:
// each file is judged as the package doc says, against maxFile bytes per
// file and maxPost bytes in all.
func Select(m *parse.Message, maxFile, maxPost int) (kept []Kept, dropped []Dropped) {
	total := 0
	for i, a := range m.Attachments {
		ct := strings.ToLower(strings.TrimSpace(a.ContentType))
		if ct == "" {
			ct = "application/octet-stream"
		}
		name := Name(a.Filename, ct, i+1)
		if why, member := judge(name, ct, a.Data); why != 0 {
			dropped = append(dropped, Dropped{Name: name, Reason: why, Member: member})
			continue
		}
		switch {
		case len(a.Data) > maxFile:
			dropped = append(dropped, Dropped{Name: name, Reason: TooLarge})
			continue
		case total+len(a.Data) > maxPost:
			dropped = append(dropped, Dropped{Name: name, Reason: OverTotal})
			continue
		}
		total += len(a.Data)
		inline := a.Inline && a.ContentID != "" && strings.Contains(m.HTML, "cid:"+a.ContentID)
		kept = append(kept, Kept{Filename: name, ContentType: ct, ContentID: a.ContentID, Inline: inline, Data: a.Data})
	}
	return kept, dropped
}

// judge returns why the file name (cleaned) of type ct holding data is
// dropped whatever its size, or 0; for an archive, the member at fault.
func judge(name, ct string, data []byte) (Reason, string) {
	if Dangerous(name) || executableTypes[ct] || bytes.HasPrefix(data, []byte("MZ")) && ct != "text/plain" {
		return Program, ""
	}
	if isZip(name, ct, data) {
		return checkZip(data, 0)
	}
	return 0, ""
}

// executableExts are file name extensions of programs, scripts, installers,
// shortcuts and disk images (which carry programs past the other checks),
// which the forum never keeps: the union of the types Gmail and Outlook
// block, less none.
var executableExts = setOf(
	// Windows programs, libraries, installers and packages.
	".exe", ".com", ".scr", ".pif", ".cpl", ".dll", ".sys", ".drv", ".ocx", ".vxd", ".xll", ".lib",
	".msi", ".msp", ".mst", ".msu", ".msix", ".msixbundle", ".appx", ".appxbundle", ".appinstaller",
	".application", ".appref-ms", ".gadget", ".xbap", ".cab", ".diagcab", ".diagcfg", ".diagpack",
	".ex", ".ex_", ".ins", ".isp", ".inf", ".reg", ".scf", ".msc", ".lnk", ".url", ".website", ".webpnp",
	".settingcontent-ms", ".library-ms", ".searchconnector-ms", ".printerexport", ".theme", ".themepack",
	".cnt", ".hlp", ".hpj", ".chm", ".its", ".grp", ".prf", ".pcd", ".shb", ".shs", ".xnk", ".vsmacros", ".vsw", ".wsb",
	// Scripts.
	".bat", ".cmd", ".js", ".jse", ".mjs", ".vb", ".vbe", ".vbs", ".vbp", ".wsf", ".wsh", ".wsc", ".ws",
	".sct", ".hta", ".htc", ".ps1", ".ps1xml", ".ps2", ".ps2xml", ".psc1", ".psc2", ".psd1", ".psm1", ".psdm1",
	".msh", ".msh1", ".msh2", ".mshxml", ".msh1xml", ".msh2xml", ".sh", ".bash", ".csh", ".ksh", ".command",
	".pl", ".py", ".pyc", ".pyo", ".pyw", ".pyz", ".pyzw", ".jar", ".jnlp", ".nsh", ".bas", ".fxp", ".prg",
	".ade", ".adp", ".mad", ".maf", ".mag", ".mam", ".maq", ".mar", ".mas", ".mat", ".mau", ".mav", ".maw",
	".mcf", ".mda", ".mdb", ".mde", ".mdt", ".mdw", ".mdz", ".ops", ".osd", ".plg",
	// Disk images, which Windows and macOS open as drives.
	".iso", ".img", ".vhd", ".vhdx", ".dmg",
	// Other platforms' installers.
	".apk", ".app", ".pkg", ".deb", ".rpm",
)

func setOf(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, it := range items {
		m[it] = true
	}
	return m
}

// executableTypes are media types of programs, scripts, installers and
// disk images.
var executableTypes = setOf(
	"application/x-msdownload", "application/x-msdos-program", "application/x-dosexec",
	"application/x-executable", "application/vnd.microsoft.portable-executable",
	"application/x-ms-installer", "application/x-msi", "application/java-archive",
	"application/x-java-archive", "application/x-java-jnlp-file", "application/x-sh", "application/x-csh", "text/x-sh",
	"application/x-bat", "application/bat", "application/javascript", "text/javascript",
	"application/x-javascript", "text/vbscript", "application/x-vbscript",
	"application/x-powershell", "application/hta", "application/vnd.android.package-archive",
	"application/x-ms-shortcut", "application/internet-shortcut", "application/x-url", "application/vnd.ms-htmlhelp",
	"application/x-iso9660-image", "application/x-cd-image", "application/x-raw-disk-image",
	"application/x-apple-diskimage", "application/x-python-code", "text/x-python", "application/x-perl",
	"application/appx", "application/msix", "application/vnd.ms-appx", "application/x-ms-application",
)

// Name returns a safe file name: the sender's, normalised
// (Normalize) and at most 200 bytes, or "attachment-N" with an
// extension for the media type when nothing is left of it.
func Name(name, ct string, n int) string {
	name = Normalize(name)
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	name = strings.TrimRightFunc(name, trailingJunk)
	if name != "" {
		return name
	}
	name = fmt.Sprintf("attachment-%d", n)
	if ct == "message/rfc822" {
		return name + ".eml"
	}
	if exts, _ := mime.ExtensionsByType(ct); len(exts) > 0 {
		return name + exts[0]
	}
	return name
}

// Normalize returns name as it is judged and stored: in Unicode
// NFC, without control and format characters (zero-width spaces and
// joiners, the byte-order mark, soft hyphens and the bidirectional
// controls such as U+202E RIGHT-TO-LEFT OVERRIDE, which make
// "x\u202Efdp.exe" look like "xexe.pdf"), without directory separators,
// and without the leading and trailing dots and white space that Windows
// ignores when it opens "run.exe. " as run.exe.
func Normalize(name string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == '\\':
			return -1
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Cf, r),
			unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
			return -1
		case unicode.IsSpace(r):
			return ' '
		}
		return r
	}, name)
	name = norm.NFC.String(name)
	name = strings.TrimLeftFunc(name, trailingJunk)
	return strings.TrimRightFunc(name, trailingJunk)
}

// trailingJunk reports the characters trimmed from both ends of a file
// name: white space and dots.
func trailingJunk(r rune) bool { return r == '.' || unicode.IsSpace(r) }

// Dangerous reports whether name (normalised) has the extension of a
// program, script or disk image. Full-width and other compatibility forms
// of the letters count as the letters (NFKC), and so does the extension of
// a name ending in an NTFS stream suffix ("x.exe::$DATA", "x.exe:zone").
func Dangerous(name string) bool {
	name = strings.ToLower(norm.NFKC.String(name))
	if i := strings.IndexByte(name, ':'); i >= 0 {
		if executableExts[path.Ext(strings.TrimRightFunc(name[:i], trailingJunk))] {
			return true
		}
	}
	return executableExts[path.Ext(name)]
}
