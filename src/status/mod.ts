/**
 * The HTTP status endpoint beside an SCP: health, status, metrics and a live page.
 *
 * @module
 */
export { createStatusApp } from "./app.ts";
export type { StatusApp } from "./app.ts";
export type { AssociationStatusJson, StatusJson } from "./json.ts";
export { PROMETHEUS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
export { serveStatus } from "./serve.ts";
export type { ServeStatusOptions, StatusServer } from "./serve.ts";
export type * from "./source.ts";
export { parsePeerAddress, scpStatusSource } from "./scp_source.ts";
export type { ScpStatusSourceOptions } from "./scp_source.ts";
