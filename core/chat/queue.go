package chat

// Queue is the River queue of chat turns in a process: a queue of its
// own, worked by jobs.chat_workers and fetched sooner than the others
// (jobs.chat_fetch_cooldown, jobs.chat_fetch_poll_interval), so that a
// turn starts within tens of milliseconds of its message and waits behind
// no embedding job.
const Queue = "chat"
