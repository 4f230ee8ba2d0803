// Tasks: the open (or done) tasks, by assignee; complete one.
import { api, enc, query } from "../api.js";
import { field, fill, h, link, status, table, when } from "../ui.js";

export async function tasksPage(main, rerender, params) {
  const state = params.get("status") === "done" ? "done" : "open";
  const assignee = params.get("assignee") || "";
  const { tasks } = await api.get(`/admin/tasks${query({ status: state, assignee })}`);
  const message = h("div", { "aria-live": "polite" });
  const statusSelect = h(
    "select",
    { name: "status" },
    ["open", "done"].map((s) => h("option", { value: s, selected: s === state ? true : undefined }, s)),
  );
  const assigneeInput = h("input", { name: "assignee", type: "text", value: assignee, autocomplete: "off" });
  const form = h(
    "form",
    { className: "search", "aria-label": "Filter tasks" },
    field("Status", statusSelect),
    field("Assignee", assigneeInput),
    h("div", { className: "field submit" }, h("button", { type: "submit" }, "Show")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.location.hash = `#/tasks${query({ status: statusSelect.value, assignee: assigneeInput.value.trim() })}`;
  });
  main.append(
    h("h1", { tabindex: "-1" }, "Tasks"),
    form,
    message,
    table(
      `${tasks.length} ${state} task${tasks.length === 1 ? "" : "s"}`,
      ["Task", "Contact", "Assignee", "Status", "Created", "Due", "Action"],
      tasks.map((t) => [
        t.title || t.task_id,
        t.contact_id ? link(`#/contacts/${enc(t.contact_id)}`, t.contact_id) : "–",
        t.assignee,
        t.status,
        when(t.created_at),
        when(t.due),
        t.status === "open"
          ? h(
              "button",
              {
                type: "button",
                dataset: { complete: t.task_id },
                "aria-label": `Complete: ${t.title || t.task_id}`,
                onClick: async () => {
                  try {
                    await api.post(`/admin/tasks/${enc(t.task_id)}/complete`, { assignee: t.assignee });
                    await rerender(status(`Done: ${t.title || t.task_id}.`));
                  } catch (err) {
                    fill(message, status(err.message, "error"));
                  }
                },
              },
              "Complete",
            )
          : "–",
      ]),
      { name: "tasks", rowHeaders: true, empty: `No ${state} tasks.` },
    ),
  );
}
