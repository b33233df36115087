// Package field holds the rules every input field of Consilium obeys, in one
// place, so that the HTTP API, agents and jobs refuse the same values with the
// same messages: text (no NUL, valid UTF-8, a length in characters), titles,
// names and tags, keys (machine names such as task sources), free JSON
// objects (metadata, preferences: at most MaxObjectBytes, nested at most
// MaxObjectDepth deep, nothing Postgres' jsonb would refuse), time zones
// (IANA names only) and ids.
//
// A rule names the field it checks as the caller passes it ("title",
// "tags[2]", "content[3].props.metadata") and returns an *apperr.Error of code
// invalid. Where the value came from in a request (body, query, path) is the
// api layer's business: see apperr.In.
package field
