package ai

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/sdk"
)

// ImageTypes are the image types transcription reads.
var ImageTypes = []string{"image/png", "image/jpeg", "image/webp"}

// TranscribeParams is an image to read.
type TranscribeParams struct {
	Image []byte
	// Language is an optional BCP 47 hint ("en", "de-CH").
	Language string
	// CreateNote saves the result as a new note titled Title (default:
	// its first heading, else "Transcription <date>").
	CreateNote bool
	Title      string
	Tags       []string
}

// Transcription is the text read from an image and its blocks.
type Transcription struct {
	Text   string
	Blocks []Block
	// Note is the note created, with CreateNote.
	Note *note.Note
}

// Transcribe reads the text in an image with the transcription provider and
// turns it into BlockNote blocks; with CreateNote it saves them as a new
// note, whose task lines then enter the task index like any other.
func (s *Service) Transcribe(ctx context.Context, userID uuid.UUID, p *TranscribeParams) (*Transcription, error) {
	if len(p.Image) == 0 {
		return nil, apperr.Field("image", "is required", nil)
	}
	if int64(len(p.Image)) > s.cfg.MaxImageBytes {
		return nil, apperr.Field("image", fmt.Sprintf("is %d bytes; at most %d are accepted", len(p.Image), s.cfg.MaxImageBytes), nil)
	}
	mime := http.DetectContentType(p.Image)
	if !isImageType(mime) {
		return nil, apperr.Field("image", "must be a PNG, JPEG or WebP image", mime)
	}
	if len(p.Language) > 35 {
		return nil, apperr.Field("language", "must be a language tag such as en or de-CH", p.Language)
	}
	title, err := note.CheckTitle("title", p.Title)
	if err != nil {
		return nil, err
	}
	c, err := s.llm(s.providers.Transcription, "transcription")
	if err != nil {
		return nil, userError("Transcription", err)
	}
	tr, err := model.Transcriber(c)
	if err != nil {
		return nil, userError("Transcription", err)
	}
	resp, err := tr.Transcribe(ctx, &sdk.TranscribeRequest{Model: s.cfg.TranscriptionModel, Image: p.Image, MIMEType: mime, Language: p.Language})
	if err != nil {
		return nil, userError("Transcription", err)
	}
	text := strings.ToValidUTF8(strings.ReplaceAll(resp.Text, "\x00", ""), "")
	out := &Transcription{Text: text, Blocks: TextToBlocks(text)}
	if !p.CreateNote {
		return out, nil
	}
	if title == "" {
		title = "Transcription " + time.Now().UTC().Format("2006-01-02 15:04")
		for _, b := range out.Blocks {
			if b.Type == "heading" {
				title = b.PlainText()
				break
			}
		}
		if utf8.RuneCountInString(title) > note.MaxTitleLength {
			title = string([]rune(title)[:note.MaxTitleLength])
		}
	}
	n, err := s.notes.Create(ctx, userID, &note.CreateParams{Title: title, Content: MarshalBlocks(out.Blocks), Tags: p.Tags,
		Metadata: []byte(`{"source":"transcription"}`)})
	if err != nil {
		return nil, err
	}
	out.Note = n
	return out, nil
}

func isImageType(mime string) bool {
	for _, t := range ImageTypes {
		if mime == t {
			return true
		}
	}
	return false
}
