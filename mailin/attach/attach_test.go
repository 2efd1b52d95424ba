package attach

import (
	"testing"

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
			kept, dropped := Select(m, 1<<20, 1<<20)
			if c.dropped {
				if len(kept) != 0 || len(dropped) != 1 || dropped[0].Reason != Program {
					t.Fatalf("%q: kept %d, dropped %+v; want it dropped as a program", c.name, len(kept), dropped)
				}
				if dropped[0].Name != c.stored {
					t.Errorf("%q: dropped as %q, want %q", c.name, dropped[0].Name, c.stored)
				}
				return
			}
			if len(kept) != 1 || len(dropped) != 0 {
				t.Fatalf("%q: kept %d, dropped %+v; want it kept", c.name, len(kept), dropped)
			}
			if kept[0].Filename != c.stored {
				t.Errorf("%q stored as %q, want %q", c.name, kept[0].Filename, c.stored)
			}
		})
	}
}
