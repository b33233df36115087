package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/consilium-hq/consilium/core/apperr"
)

// uploadOverhead is what a multipart body may hold besides the file
// (boundaries, part headers, the other fields).
const uploadOverhead = 256 << 10

// uploadReadTimeout is how long an upload may take to arrive.
const uploadReadTimeout = 2 * time.Minute

// formFile and form are a multipart body read into memory: the upload
// operations take the raw body so that they can also accept JSON and
// bound each file on its own.
type formFile struct {
	filename, contentType string
	data                  []byte
}

type form struct {
	files  map[string]formFile
	values map[string][]string
}

func (f *form) value(name string) string {
	if v := f.values[name]; len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// maxFormValue bounds a non-file field.
const maxFormValue = 64 << 10

// readForm reads a multipart body already read into memory. Files may
// only come in the named fields, each at most its limit (413 above it).
func readForm(contentType string, body []byte, fileLimits map[string]int64) (*form, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, &apperr.Error{Code: apperr.Invalid, Message: "send the request as multipart/form-data",
			Fields: []apperr.FieldError{{In: "header", Location: "Content-Type", Message: "must be multipart/form-data with a boundary", Value: contentType}}}
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	out := &form{files: map[string]formFile{}, values: map[string][]string{}}
	for {
		part, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, apperr.Field("", "is not a valid multipart form: "+err.Error(), nil)
		}
		name := part.FormName()
		if limit, isFile := fileLimits[name]; isFile {
			data, err := io.ReadAll(io.LimitReader(part, limit+1))
			if err != nil {
				return nil, apperr.Field(name, "cannot be read: "+err.Error(), nil)
			}
			if int64(len(data)) > limit {
				return nil, huma.Error413RequestEntityTooLarge(fmt.Sprintf("%s is larger than %d bytes", name, limit))
			}
			if _, dup := out.files[name]; dup {
				return nil, apperr.Field(name, "must be sent once", nil)
			}
			out.files[name] = formFile{filename: part.FileName(), contentType: part.Header.Get("Content-Type"), data: data}
			continue
		}
		v, err := io.ReadAll(io.LimitReader(part, maxFormValue+1))
		if err != nil || len(v) > maxFormValue {
			return nil, apperr.Field(name, fmt.Sprintf("must be at most %d bytes", maxFormValue), nil)
		}
		out.values[name] = append(out.values[name], string(v))
	}
}
