package threads

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/postern/postern/mailin/parse"
)

// TestAttachmentNames judges file names as the sender's client would show
// them and Windows would open them: invisible and bidirectional characters,
// trailing dots and spaces and compatibility forms do not hide a program.
func TestAttachmentNames(t *testing.T) {
	cases := []struct {
		name, ct string
		stored   string // the name kept (or reported in the note)
		dropped  bool
	}{
		{"invoice.pdf\u202Eexe.scr", "application/pdf", "invoice.pdfexe.scr", true},
		{"invoice\u202Efdp.exe", "application/pdf", "invoicefdp.exe", true},
		{"run.exe.", "application/octet-stream", "run.exe", true},
		{"run.exe . . ", "application/octet-stream", "run.exe", true},
		{"run.exe.\u200B", "application/octet-stream", "run.exe", true},
		{"x.ex\u200Be", "application/octet-stream", "x.exe", true},
		{"x.e\u200Dx\u2060e", "application/octet-stream", "x.exe", true},
		{"x.\uFEFFbat", "text/plain", "x.bat", true},
		{"setup.\u00ADmsi", "application/octet-stream", "setup.msi", true},
		{"report\u2066.pdf\u2069.lnk", "application/octet-stream", "report.pdf.lnk", true},
		{"photo.ＥＸＥ", "image/jpeg", "photo.ＥＸＥ", true},
		{"notes.txt:evil.exe", "text/plain", "notes.txt:evil.exe", true},
		{"payload.exe::$DATA", "text/plain", "payload.exe::$DATA", true},
		{"TAX.REG", "text/plain", "TAX.REG", true},
		{"disk.iso", "application/octet-stream", "disk.iso", true},
		{"disk.img", "application/octet-stream", "disk.img", true},
		{"help.chm", "application/octet-stream", "help.chm", true},
		{"site.url", "text/plain", "site.url", true},
		{"mod.psm1", "text/plain", "mod.psm1", true},
		{"app.hta", "text/html", "app.hta", true},
		{"vm.vhd", "application/octet-stream", "vm.vhd", true},
		{"vm.vhdx", "application/octet-stream", "vm.vhdx", true},
		{"pkg.appx", "application/octet-stream", "pkg.appx", true},
		{"pkg.msix", "application/octet-stream", "pkg.msix", true},
		{"x.jse", "text/plain", "x.jse", true},
		{"x.wsf", "text/xml", "x.wsf", true},
		{"panel.cpl", "application/octet-stream", "panel.cpl", true},
		{"tool.jar", "application/zip", "tool.jar", true},
		{"a.pif", "application/octet-stream", "a.pif", true},
		{"noext", "application/x-iso9660-image", "noext", true},
		// Kept: documents, with their names cleaned.
		{"diary.txt", "text/plain", "diary.txt", false},
		{"Cafe\u0301 menu.pdf", "application/pdf", "Caf\u00e9 menu.pdf", false},
		{"  report\u200B.pdf . ", "application/pdf", "report.pdf", false},
		{"résumé\u202E.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "résumé.docx", false},
		{"\u200B\u202E", "image/png", "attachment-1.png", false},
		{"..\\..\\boot.ini", "text/plain", "boot.ini", false},
	}
	for _, c := range cases {
		t.Run(c.stored, func(t *testing.T) {
			m := &parse.Message{Attachments: []parse.Attachment{{Filename: c.name, ContentType: c.ct, Data: []byte("data")}}}
			kept, notes := selectAttachments(m, 1<<20, 1<<20)
			if c.dropped {
				if len(kept) != 0 || len(notes) != 1 {
					t.Fatalf("%q: kept %d, notes %q; want it dropped", c.name, len(kept), notes)
				}
				if !strings.Contains(notes[0], "attachment "+c.stored+" was not kept: programs") {
					t.Errorf("%q: note %q does not name %q", c.name, notes[0], c.stored)
				}
				return
			}
			if len(kept) != 1 || len(notes) != 0 {
				t.Fatalf("%q: kept %d, notes %q; want it kept", c.name, len(kept), notes)
			}
			if kept[0].filename != c.stored {
				t.Errorf("%q stored as %q, want %q", c.name, kept[0].filename, c.stored)
			}
		})
	}
}

// TestPostContentCutsLongText: a text over MaxPostTextBytes is cut on a
// character boundary (at a line break when there is one) and kept whole
// as message.txt when the attachment limits allow, else said to be cut.
func TestPostContentCutsLongText(t *testing.T) {
	long := strings.Repeat("é", MaxPostTextBytes) // 2 bytes each, no line break
	lines := strings.Repeat("a line of text\n", 2*MaxPostTextBytes/15)
	for _, c := range []struct {
		name, body      string
		maxFile, maxAll int
		kept            bool
		note            string
	}{
		{"runes", long, 1 << 20, 1 << 20, true, "all of it is in the attached file message.txt]"},
		{"lines", lines, 1 << 20, 1 << 20, true, "longer than 64 KiB: all of it"},
		{"too large", long, 64 << 10, 1 << 20, false, "the rest was not kept: it is larger than 64 KiB]"},
		{"post full", long, 1 << 20, 100 << 10, false, "the files of one message may not exceed 100 KiB]"},
		{"short", "short text", 1 << 20, 1 << 20, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, _, atts := postContent(&parse.Message{}, c.body, "", c.maxFile, c.maxAll)
			if !utf8.ValidString(body) || len(body) > MaxPostTextBytes+200 {
				t.Errorf("body of %d bytes, valid UTF-8 %v", len(body), utf8.ValidString(body))
			}
			if c.note == "" && body != c.body || c.note != "" && !strings.HasSuffix(strings.TrimSpace(body), "]") || !strings.Contains(body, c.note) {
				t.Errorf("body ends %q, want the note %q", body[max(0, len(body)-120):], c.note)
			}
			if c.name == "lines" && !strings.Contains(body, "a line of text\n\n[the text") {
				t.Errorf("not cut at a line break: %q", body[len(body)-150:])
			}
			if got := len(atts) == 1 && atts[0].filename == "message.txt" && string(atts[0].data) == c.body; got != c.kept {
				t.Errorf("message.txt kept whole: %v, want %v (%d attachments)", got, c.kept, len(atts))
			}
		})
	}
}
