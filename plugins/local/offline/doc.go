// Package offline is the logic of the local plugin, the model provider that
// needs no network and no key and that `consilium serve` enables when no
// other provider is configured:
//
//   - embeddings are lexical, not neural: signed feature hashing of words,
//     word pairs and character 3- to 5-grams into 384 dimensions, L2
//     normalised (embed.go);
//   - transcription runs the Tesseract OCR engine (ocr.go);
//   - chat cannot write answers: it quotes the passages the host retrieved
//     that best match the question, with their sources, and says that no
//     language model is configured (retrieval.go).
package offline
