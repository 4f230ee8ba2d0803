// The admin API, every request SigV4-signed (service execute-api) with aws4fetch.
import { AwsClient } from "aws4fetch";
import { current, logout } from "./auth.js";

export class ApiError extends Error {
  constructor(status, body) {
    const message = (body && body.message) || `HTTP ${status}`;
    super(body && body.field ? `${message} (${body.field})` : message);
    this.status = status;
    this.body = body;
  }
}

export class NotSignedIn extends Error {
  constructor(message, refused = false) {
    super(message);
    this.refused = refused;
  }
}

let config = null;

export function configure(value) {
  config = value;
}

async function call(method, path, body) {
  const creds = current();
  if (!creds) throw new NotSignedIn("Sign in first");
  const client = new AwsClient({
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    sessionToken: creds.sessionToken,
    service: "execute-api",
    region: config.region,
    retries: 0,
  });
  const base = config.apiUrl || window.location.origin;
  const init = { method, headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const response = await client.fetch(base + path, init);
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { message: text.slice(0, 200) };
  }
  if (response.status === 403 || response.status === 401) {
    logout();
    throw new NotSignedIn("The admin API refused these credentials: sign in again", true);
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export const api = {
  get: (path) => call("GET", path),
  post: (path, body = {}) => call("POST", path, body),
};

/** A query string from the non-empty values of an object. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export const enc = encodeURIComponent;
