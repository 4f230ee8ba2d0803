// The console: a hash router over the pages, and the sign-in form.
import { configure, NotSignedIn } from "./api.js";
import { current, login, logout } from "./auth.js";
import { destroyCharts } from "./charts.js";
import { destroyGraphs, mountGraphs } from "./graph.js";
import { contactPage } from "./pages/contact.js";
import { contactsPage } from "./pages/contacts.js";
import { programPage } from "./pages/program.js";
import { programsPage } from "./pages/programs.js";
import { resultsPage } from "./pages/results.js";
import { suppressionsPage } from "./pages/suppressions.js";
import { tasksPage } from "./pages/tasks.js";
import { field, h, status } from "./ui.js";

const root = document.getElementById("main");
const signOut = document.getElementById("sign-out");
let config = null;
// each page is built in its own detached box, shown only if no later navigation superseded it
let main = null;
let generation = 0;
let firstRender = true;

const ROUTES = [
  [/^programs\/([^/]+)$/, (m, rerender) => programPage(main, decodeURIComponent(m[1]), rerender), "Program"],
  [/^programs$/, () => programsPage(main), "Programs"],
  [/^contacts\/([^/]+)$/, (m) => contactPage(main, decodeURIComponent(m[1])), "Contact"],
  [/^contacts$/, () => contactsPage(main), "Contacts"],
  [/^results$/, (m, rerender, params) => resultsPage(main, rerender, params), "Results"],
  [/^tasks$/, (m, rerender, params) => tasksPage(main, rerender, params), "Tasks"],
  [/^suppressions$/, (m, rerender, params) => suppressionsPage(main, rerender, params), "Suppressions"],
];

function location() {
  const raw = window.location.hash.replace(/^#\/?/, "") || "programs";
  const [path, search = ""] = raw.split("?");
  return { path, params: new URLSearchParams(search) };
}

async function render(notice) {
  const mine = ++generation;
  destroyCharts();
  destroyGraphs();
  main = document.createElement("div");
  root.dataset.ready = "false";
  root.setAttribute("aria-busy", "true");
  const { path, params } = location();
  for (const link of document.querySelectorAll("nav a")) {
    const section = link.getAttribute("href").slice(2);
    if (path === section || path.startsWith(`${section}/`)) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  signOut.hidden = !current();
  try {
    if (!current()) throw new NotSignedIn("Sign in to use the console");
    const route = ROUTES.find(([pattern]) => pattern.test(path));
    if (!route) {
      main.append(h("h1", { tabindex: "-1" }, "Not found"), h("p", {}, "There is no such page."));
    } else {
      const [pattern, page, title] = route;
      if (notice) main.append(notice);
      await page(path.match(pattern), render, params);
      document.title = `${title} · Nurture`;
    }
  } catch (err) {
    main.replaceChildren();
    if (err instanceof NotSignedIn) {
      signInForm(err.message, err.refused);
    } else {
      main.append(h("h1", { tabindex: "-1" }, "Something went wrong"), status(err.message, "error"));
    }
  }
  if (mine !== generation) return; // a later navigation is showing its own page
  root.replaceChildren(...main.childNodes);
  mountGraphs();
  root.removeAttribute("aria-busy");
  root.dataset.route = window.location.hash.replace(/^#\/?/, "") || "programs";
  root.dataset.ready = "true";
  // after a navigation the reader starts at the new page's heading (not on the first load:
  // there the skip link and the menu come first)
  const heading = root.querySelector("h1");
  if (heading && !firstRender) heading.focus();
  firstRender = false;
}

function signInForm(reason, refused) {
  document.title = "Sign in · Nurture";
  signOut.hidden = true;
  const username = h("input", { name: "username", autocomplete: "username", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const message = h("div", { "aria-live": "polite" }, reason ? status(reason, refused ? "error" : "info") : null);
  const form = h(
    "form",
    { className: "sign-in", "aria-label": "Sign in" },
    field(config.mode === "local" ? "Access key (local cloud: local)" : "User name", username),
    field(config.mode === "local" ? "Secret (local cloud: local)" : "Password", password),
    h("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await login(config, username.value.trim(), password.value);
      await render();
    } catch (err) {
      message.replaceChildren(status(err.message || "Sign-in failed", "error"));
    }
  });
  main.append(h("h1", { tabindex: "-1" }, "Sign in"), message, form);
}

async function start() {
  const response = await fetch("config.json", { cache: "no-store" });
  config = await response.json();
  configure(config);
  signOut.addEventListener("click", () => {
    logout();
    render(status("Signed out."));
  });
  // the skip link moves focus without touching the hash the router reads
  document.querySelector(".skip").addEventListener("click", (event) => {
    event.preventDefault();
    root.focus();
  });
  window.addEventListener("hashchange", () => render());
  await render();
}

start();
