/**
 * The status endpoint as a Hono app: `GET /health`, `GET /status`, `GET /metrics` and the live
 * page at `GET /`. It only reads a {@linkcode StatusSource}; serve it with `serveStatus`.
 *
 * @module
 */
import { Hono } from "hono";
import { statusJson } from "./json.ts";
import { PROMETHEUS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import { STATUS_PAGE_HTML } from "./page.ts";
import type { StatusSource } from "./source.ts";

/**
 * The status app: a Hono app, typed by what its users need of it (answering requests), so that
 * Hono's own types stay out of the public API.
 */
export interface StatusApp {
  /** Answers one HTTP request. */
  fetch(request: Request): Response | Promise<Response>;
}

/**
 * Creates the status app over a source.
 *
 * - `GET /health` → 200 `{"status":"ok"}` while the SCP accepts associations, else 503
 *   `{"status":"unavailable"}`.
 * - `GET /status` → the snapshot as JSON ({@linkcode StatusJson}).
 * - `GET /metrics` → Prometheus text format.
 * - `GET /` → a live HTML page.
 */
export function createStatusApp(source: StatusSource): StatusApp {
  const app = new Hono();
  app.use("*", async function noStore(c, next) {
    await next();
    c.header("Cache-Control", "no-store");
  });
  app.get("/health", function health(c) {
    const { accepting } = source.snapshot();
    return accepting ? c.json({ status: "ok" }, 200) : c.json({ status: "unavailable" }, 503);
  });
  app.get("/status", function status(c) {
    return c.json(statusJson(source.snapshot()));
  });
  app.get("/metrics", function metrics(c) {
    return c.body(renderMetrics(source.snapshot()), 200, {
      "Content-Type": PROMETHEUS_CONTENT_TYPE,
    });
  });
  app.get("/", function page(c) {
    return c.html(STATUS_PAGE_HTML);
  });
  return app;
}

export type { StatusJson } from "./json.ts";
