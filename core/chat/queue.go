package chat

import "github.com/riverqueue/river"

// Queue is the River queue of chat turns in a process: a queue of its
// own, worked by jobs.chat_workers and fetched sooner than the others
// (jobs.chat_fetch_cooldown, jobs.chat_fetch_poll_interval), so that a
// turn starts within tens of milliseconds of its message and waits behind
// no embedding job.
const Queue = "chat"

// InsertOpts are the defaults of a run's job: the chat queue (a Service
// names its own queue when it inserts one, as tests do) and the attempts
// a run gets when its worker dies or stops mid-turn.
func (RunTurnArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: runTurnAttempts}
}
