// Package jobs holds Consilium's River workers and the River client setup.
// Workers are thin: they call core services. Job argument types live beside
// their domain in core/ so services can insert jobs without importing jobs.
package jobs
