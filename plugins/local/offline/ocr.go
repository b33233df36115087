package offline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"

	"github.com/consilium-hq/consilium/sdk"
)

// tesseractFallbacks are tried when tesseract is not on PATH: the host may
// start plugins with a minimal environment.
var tesseractFallbacks = []string{"/usr/bin/tesseract", "/usr/local/bin/tesseract", "/opt/homebrew/bin/tesseract"}

// findTesseract returns the tesseract binary: configured, on PATH, or in a
// usual place.
func findTesseract(configured string) (string, error) {
	if configured != "" {
		if _, err := os.Stat(configured); err != nil {
			return "", sdk.InvalidConfig("config %q is %q, which does not exist", KeyTesseractPath, configured)
		}
		return configured, nil
	}
	if p, err := exec.LookPath("tesseract"); err == nil {
		return p, nil
	}
	for _, p := range tesseractFallbacks {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errNoTesseract
}

var errNoTesseract = sdk.InvalidConfig("the Tesseract OCR engine is not installed, so images cannot be transcribed: " +
	"run scripts/install-tesseract.sh, or install it by hand (Debian/Ubuntu: apt-get install tesseract-ocr tesseract-ocr-eng)")

// tesseractLanguages maps BCP 47 primary language subtags to Tesseract's
// traineddata names, for the languages Debian packages.
var tesseractLanguages = map[string]string{
	"en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "pt": "por", "nl": "nld", "sv": "swe",
	"da": "dan", "no": "nor", "nb": "nor", "fi": "fin", "pl": "pol", "cs": "ces", "ru": "rus", "uk": "ukr",
	"tr": "tur", "el": "ell", "ja": "jpn", "zh": "chi_sim", "ko": "kor", "ar": "ara", "he": "heb", "hi": "hin",
}

// installedLanguages caches `tesseract --list-langs` per binary.
var installedLanguages sync.Map // path -> map[string]bool

func listLanguages(ctx context.Context, bin string) map[string]bool {
	if v, ok := installedLanguages.Load(bin); ok {
		return v.(map[string]bool)
	}
	out, err := exec.CommandContext(ctx, bin, "--list-langs").CombinedOutput()
	langs := map[string]bool{}
	if err != nil {
		return langs // unknown: not cached, asked again next time
	}
	for _, line := range strings.Split(string(out), "\n")[1:] {
		if l := strings.TrimSpace(line); l != "" {
			langs[l] = true
		}
	}
	installedLanguages.Store(bin, langs)
	return langs
}

// ocrLanguage picks the -l argument: the hint's language if its data is
// installed, else the configured default.
func ocrLanguage(ctx context.Context, bin, hint, def string) string {
	primary, _, _ := strings.Cut(strings.ToLower(hint), "-")
	if code := tesseractLanguages[primary]; code != "" && code != def && listLanguages(ctx, bin)[code] {
		return code
	}
	return def
}

// ocr runs `tesseract stdin stdout` on the image.
func ocr(ctx context.Context, bin, lang string, image []byte) (string, error) {
	cmd := exec.CommandContext(ctx, bin, "stdin", "stdout", "-l", lang, "--psm", "3")
	cmd.Stdin = bytes.NewReader(image)
	// One OpenMP thread: on small machines Tesseract's threads slow it down.
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("tesseract: %w", ctx.Err())
		}
		msg := strings.TrimSpace(stderr.String())
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			// Tesseract fails this way on images it cannot read; the same
			// image fails again.
			return "", sdk.Permanent("tesseract could not read the image: %s", lastLine(msg))
		}
		return "", sdk.Temporary("run tesseract: %v", err)
	}
	return cleanOCR(stdout.String()), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// Checkboxes as Tesseract tends to read them at the start of a line: "[]",
// "[ ]", "[ x ]", "[X]", "[v]", "[✓]".
var (
	emptyBox   = regexp.MustCompile(`^(\s*)\[\s*\]\s*`)
	checkedBox = regexp.MustCompile(`^(\s*)\[\s*[xXvV✓✔]\s*\]\s*`)
)

// cleanOCR trims the output and writes checkboxes the way task lists are
// written: "[ ] " and "[x] ".
func cleanOCR(s string) string {
	s = strings.ReplaceAll(s, "\f", "")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, " \t\r")
		l = emptyBox.ReplaceAllString(l, "$1[ ] ")
		l = checkedBox.ReplaceAllString(l, "$1[x] ")
		lines[i] = l
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
