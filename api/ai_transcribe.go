package api

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/apperr"
)

// TranscribeForm documents the multipart form of POST /ai/transcribe.
type TranscribeForm struct {
	Image      string `json:"image" format:"binary" doc:"A PNG, JPEG or WebP image: a photo or scan of a page, a screenshot."`
	CreateNote bool   `json:"create_note,omitempty" doc:"Also save the result as a new note (its task lines enter the task index)."`
	Title      string `json:"title,omitempty" maxLength:"500" doc:"Title of the new note; default: the first heading read, else \"Transcription <date>\"."`
	Tags       string `json:"tags,omitempty" doc:"Tags of the new note, comma-separated (or repeat the field)."`
	Language   string `json:"language,omitempty" example:"de" doc:"BCP 47 hint of the page's language."`
}

// Transcription is the text read from an image.
type Transcription struct {
	Text   string      `json:"text" doc:"The text as read, checkboxes written [ ] and [x]."`
	Blocks NoteContent `json:"blocks" doc:"The text as BlockNote blocks: headings, paragraphs, list items, and task lines as checkListItem blocks (checked for [x] and ☑)."`
	Note   *NoteJSON   `json:"note,omitempty" doc:"The note created, with create_note."`
}

func registerTranscribe(authed huma.API, svc *ai.Service, maxImage int64) {
	reg := authed.OpenAPI().Components.Schemas
	huma.Register(authed, huma.Operation{
		OperationID: "transcribe-image", Method: http.MethodPost, Path: "/ai/transcribe",
		Summary: "Transcribe an image", Tags: aiTags,
		Description: fmt.Sprintf("Reads the text in an image (multipart/form-data, the image in field image: PNG, JPEG or WebP, "+
			"at most %d bytes) with the configured transcription model and returns it as text and as BlockNote blocks: "+
			"lines that look like tasks ([ ], [x], - [ ], ☐, ☑, TODO) become checkListItem blocks. With create_note=true "+
			"the blocks are saved as a new note, whose tasks enter the task index like any other. "+
			"503 when no transcription model is available.", maxImage),
		MaxBodyBytes:     maxImage + uploadOverhead,
		BodyReadTimeout:  uploadReadTimeout,
		SkipValidateBody: true,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"multipart/form-data": {Schema: reg.Schema(reflect.TypeFor[TranscribeForm](), true, "TranscribeForm"),
				// An image cannot be written into the document: the example
				// names what goes there.
				Example: map[string]any{"image": "(the bytes of a PNG, JPEG or WebP image)", "create_note": true,
					"title": "Weekly plan", "tags": "inbox,scans", "language": "en"}},
		}},
		Errors: []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *struct {
		ContentType string `header:"Content-Type"`
		RawBody     []byte `contentType:"multipart/form-data"`
	}) (*struct{ Body Transcription }, error) {
		form, err := readForm(in.ContentType, in.RawBody, map[string]int64{"image": maxImage})
		if err != nil {
			return nil, err
		}
		p := &ai.TranscribeParams{Image: form.files["image"].data, Title: form.value("title"), Language: form.value("language")}
		if v := form.value("create_note"); v != "" {
			if p.CreateNote, err = strconv.ParseBool(v); err != nil {
				return nil, apperr.Field("create_note", "must be true or false", v)
			}
		}
		for _, t := range form.values["tags"] {
			for _, tag := range strings.Split(t, ",") {
				if tag = strings.TrimSpace(tag); tag != "" {
					p.Tags = append(p.Tags, tag)
				}
			}
		}
		if _, ok := form.files["image"]; !ok {
			return nil, apperr.Field("image", "is required: send the image as the multipart field image", nil)
		}
		tr, err := svc.Transcribe(ctx, principal(ctx).User.ID, p)
		if err != nil {
			return nil, err
		}
		out := &struct{ Body Transcription }{Body: Transcription{Text: tr.Text, Blocks: NoteContent(ai.MarshalBlocks(tr.Blocks))}}
		if tr.Note != nil {
			n := toNoteJSON(tr.Note)
			out.Body.Note = &n
		}
		return out, nil
	})
}
