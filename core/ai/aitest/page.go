package aitest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// renderGray draws lines of text, black Go Regular on white, at size
// pixels per em.
func renderGray(lines []string, size float64) (*image.Gray, error) {
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, err
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, err
	}
	defer face.Close()
	margin := int(size)
	lineHeight := int(size * 1.6)
	width := 0
	for _, l := range lines {
		width = max(width, font.MeasureString(face, l).Ceil())
	}
	img := image.NewGray(image.Rect(0, 0, width+2*margin, len(lines)*lineHeight+2*margin))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	d := &font.Drawer{Dst: img, Src: image.NewUniform(color.Black), Face: face}
	for i, l := range lines {
		d.Dot = fixed.P(margin, margin+(i+1)*lineHeight-lineHeight/4)
		d.DrawString(l)
	}
	return img, nil
}

// ScannedPage renders lines as a clean PNG scan.
func ScannedPage(lines []string) ([]byte, error) {
	img, err := renderGray(lines, 40)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = png.Encode(&buf, img)
	return buf.Bytes(), err
}

// PhotographedPage renders lines as a phone photo of a page would look: a
// little rotated, unevenly lit on grey-ish paper, blurred, with sensor
// noise, as a JPEG.
func PhotographedPage(lines []string, seed uint64) ([]byte, error) {
	src, err := renderGray(lines, 44)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	angle := (1.2 + rng.Float64()) * math.Pi / 180 // 1.2°-2.2°
	if rng.IntN(2) == 0 {
		angle = -angle
	}
	b := src.Bounds()
	pad := 40
	out := image.NewGray(image.Rect(0, 0, b.Dx()+2*pad, b.Dy()+2*pad))
	cx, cy := float64(out.Bounds().Dx())/2, float64(out.Bounds().Dy())/2
	sin, cos := math.Sin(angle), math.Cos(angle)
	w, h := out.Bounds().Dx(), out.Bounds().Dy()
	for y := range h {
		for x := range w {
			// Inverse rotation, bilinear sampling of the page.
			dx, dy := float64(x)-cx, float64(y)-cy
			sx := cos*dx + sin*dy + cx - float64(pad)
			sy := -sin*dx + cos*dy + cy - float64(pad)
			v := sample(src, sx, sy)
			// Paper: light falls off towards one corner.
			light := 0.92 - 0.18*(float64(x)/float64(w))*(float64(y)/float64(h))
			p := v*light + rng.NormFloat64()*6
			out.SetGray(x, y, color.Gray{Y: uint8(math.Max(0, math.Min(255, p)))})
		}
	}
	blurred := boxBlur(out)
	var buf bytes.Buffer
	err = jpeg.Encode(&buf, blurred, &jpeg.Options{Quality: 80})
	return buf.Bytes(), err
}

func sample(img *image.Gray, x, y float64) float64 {
	b := img.Bounds()
	at := func(x, y int) float64 {
		if x < b.Min.X || y < b.Min.Y || x >= b.Max.X || y >= b.Max.Y {
			return 255
		}
		return float64(img.GrayAt(x, y).Y)
	}
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	fx, fy := x-float64(x0), y-float64(y0)
	top := at(x0, y0)*(1-fx) + at(x0+1, y0)*fx
	bottom := at(x0, y0+1)*(1-fx) + at(x0+1, y0+1)*fx
	return top*(1-fy) + bottom*fy
}

// boxBlur is a 3x3 mean: the softness of a phone camera.
func boxBlur(img *image.Gray) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			sum, n := 0, 0
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if image.Pt(x+dx, y+dy).In(b) {
						sum += int(img.GrayAt(x+dx, y+dy).Y)
						n++
					}
				}
			}
			out.SetGray(x, y, color.Gray{Y: uint8(sum / n)})
		}
	}
	return out
}

// PDF writes a PDF with a text layer: each page's lines in Helvetica, a
// blank line leaving a paragraph gap. title goes into the document info.
func PDF(title string, pages [][]string) []byte {
	var objs []string
	add := func(s string) int { objs = append(objs, s); return len(objs) }
	font := add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	pagesID := len(objs) + 1 + 2*len(pages) // after every page and its content
	var kids []string
	for _, lines := range pages {
		var content strings.Builder
		y := 760.0
		for _, l := range lines {
			if l == "" {
				y -= 14
				continue
			}
			fmt.Fprintf(&content, "BT /F1 12 Tf 1 0 0 1 72 %.0f Tm (%s) Tj ET\n", y, pdfEscape(l))
			y -= 16
		}
		c := add(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", content.Len()+1, content.String()))
		p := add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>",
			pagesID, font, c))
		kids = append(kids, fmt.Sprintf("%d 0 R", p))
	}
	add(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)))
	catalog := add(fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pagesID))
	info := add(fmt.Sprintf("<< /Title (%s) /Producer (consilium aitest) >>", pdfEscape(title)))

	var buf bytes.Buffer
	buf.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = buf.Len()
		fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&buf, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, catalog, info, xref)
	return buf.Bytes()
}

func pdfEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
	return r.Replace(s)
}
