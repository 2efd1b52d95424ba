package attach

import (
	"archive/zip"
	"bytes"
	"testing"

	"github.com/postern/postern/mailin/parse"
)

// zipOf returns a zip archive of the named members (data: the name), the
// ones in encrypted flagged as encrypted.
func zipOf(t *testing.T, members map[string][]byte, encrypted ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, data := range members {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		for _, e := range encrypted {
			if e == name {
				h.Flags |= 0x1
			}
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestZipContents: a zip is judged by what it holds: programs anywhere in
// it (in folders, under disguised names, in a zip inside it) drop it with
// the member named; an archive that cannot be checked is dropped too;
// documents in a zip, and office documents (zips themselves), are kept.
func TestZipContents(t *testing.T) {
	inner := zipOf(t, map[string][]byte{"docs/run.exe": []byte("MZ")})
	innerOK := zipOf(t, map[string][]byte{"a.txt": []byte("a")})
	deep := zipOf(t, map[string][]byte{"level2.zip": zipOf(t, map[string][]byte{"x.txt": []byte("x")})})
	cases := []struct {
		name, file, ct string
		data           []byte
		why            Reason
		member         string
	}{
		{"docs", "photos.zip", "application/zip", zipOf(t, map[string][]byte{"a.jpg": []byte("jpg"), "notes/b.txt": []byte("b")}), 0, ""},
		{"program", "photos.zip", "application/zip", zipOf(t, map[string][]byte{"a.jpg": []byte("jpg"), "tools/setup.exe": []byte("MZ")}), ArchivedProgram, "setup.exe"},
		{"disguised", "photos.zip", "application/zip", zipOf(t, map[string][]byte{"invoice\u202Efdp.scr": []byte("x")}), ArchivedProgram, "invoicefdp.scr"},
		{"windows path", "photos.zip", "application/zip", zipOf(t, map[string][]byte{`dir\run.bat.`: []byte("x")}), ArchivedProgram, "run.bat"},
		{"nested", "photos.zip", "application/zip", zipOf(t, map[string][]byte{"more.zip": inner}), ArchivedProgram, "run.exe"},
		{"nested docs", "photos.zip", "application/zip", zipOf(t, map[string][]byte{"more.zip": innerOK}), 0, ""},
		{"too deep", "photos.zip", "application/zip", zipOf(t, map[string][]byte{"level1.zip": deep}), Unchecked, ""},
		{"encrypted", "secret.zip", "application/zip", zipOf(t, map[string][]byte{"a.txt": []byte("a")}, "a.txt"), Unchecked, ""},
		{"not a zip", "broken.zip", "application/zip", []byte("this is no archive"), Unchecked, ""},
		{"zip by content", "holiday.dat", "application/octet-stream", zipOf(t, map[string][]byte{"go.cmd": []byte("x")}), ArchivedProgram, "go.cmd"},
		{"zip by type", "holiday", "application/x-zip-compressed", zipOf(t, map[string][]byte{"go.vbs": []byte("x")}), ArchivedProgram, "go.vbs"},
		{"office document", "report.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
			zipOf(t, map[string][]byte{"[Content_Types].xml": []byte("<x/>"), "word/document.xml": []byte("<w/>")}), 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &parse.Message{Attachments: []parse.Attachment{{Filename: c.file, ContentType: c.ct, Data: c.data}}}
			kept, dropped := Select(m, 1<<20, 1<<20)
			if c.why == 0 {
				if len(kept) != 1 || len(dropped) != 0 {
					t.Fatalf("kept %d, dropped %+v; want it kept", len(kept), dropped)
				}
				return
			}
			if len(kept) != 0 || len(dropped) != 1 || dropped[0].Reason != c.why || dropped[0].Member != c.member {
				t.Fatalf("kept %d, dropped %+v; want reason %d, member %q", len(kept), dropped, c.why, c.member)
			}
		})
	}
}
