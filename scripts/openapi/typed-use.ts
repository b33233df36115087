// A small typed use of the client types that openapi-typescript generates
// from api/openapi.yaml. scripts/openapi-ts.sh generates them into
// generated/ and compiles this file with tsc --strict, so a change of the
// contract that breaks a typical client fails CI.
import type { components, paths } from "./generated/consilium";

type Task = components["schemas"]["Task"];
type NoteCreate = components["schemas"]["NoteCreateRequest"];
type TaskList = paths["/tasks"]["get"]["responses"]["200"]["content"]["application/json"];
type Problem = components["schemas"]["Problem"];
type SendMessage = paths["/conversations/{conversation_id}/messages"]["post"]["requestBody"]["content"]["application/json"];

// Open tasks due before today; due_date may be null.
export function overdue(list: TaskList, today: string): Task[] {
  return (list.items ?? []).filter(
    (t) => t.due_date != null && t.due_date < today && t.status !== "completed",
  );
}

// The parent task of a subtask, or null.
export function parentOf(t: Task): string | null {
  return t.parent_task_id ?? null;
}

// A note in BlockNote's partial form: a block needs only its type.
export const groceries: NoteCreate = {
  title: "Groceries",
  content: [{ type: "checkListItem", content: "milk" }],
};

export const hello: SendMessage = {
  content: "What is due this week?",
  client_msg_id: "6a1f0c7e-3b1d-4f5e-9a43-2f0d8f1c9b10",
};

// What a failed call answers (application/problem+json).
export function describe(p: Problem): string {
  const fields = (p.errors ?? []).map((e) => `${e.location ?? ""}: ${e.message ?? ""}`);
  return [p.title ?? "error", p.detail ?? "", ...fields].filter((s) => s !== "").join("\n");
}
