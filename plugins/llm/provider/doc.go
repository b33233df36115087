// Package provider is the logic of the llm plugin: one sdk.LLM that talks to
// OpenAI, Anthropic, xAI, OpenRouter or Ollama through langchaingo, picking
// the provider, base URL and models from the settings the host sends with
// every call. xAI, OpenRouter and Ollama speak OpenAI's wire format at their
// own base URLs, so they go through langchaingo's openai package. Failures
// of the provider's HTTP API become the SDK's typed errors (errors.go).
package provider
