/**
 * The status snapshot in the Prometheus text exposition format (version 0.0.4).
 *
 * @module
 */
import type { StatusSnapshot } from "./source.ts";

/** Content-Type of the Prometheus text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Escapes a label value: backslash, double quote and line feed. */
function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function labels(pairs: Record<string, string>): string {
  const parts = Object.entries(pairs).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** Renders a snapshot as Prometheus metrics, each family with HELP and TYPE lines. */
export function renderMetrics(snapshot: StatusSnapshot, now: Date = new Date()): string {
  const lines: string[] = [];
  function family(
    name: string,
    type: "gauge" | "counter",
    help: string,
    samples: [Record<string, string>, number][],
  ): void {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) lines.push(`${name}${labels(l)} ${v}`);
  }
  const { totals } = snapshot;
  family("dimse_info", "gauge", "Version and AE title of the SCP.", [[{
    version: snapshot.version,
    ae_title: snapshot.aeTitle,
  }, 1]]);
  family("dimse_up", "gauge", "Whether the SCP accepts associations (1) or not (0).", [[
    {},
    snapshot.accepting ? 1 : 0,
  ]]);
  family("dimse_uptime_seconds", "gauge", "Seconds since the SCP started.", [[
    {},
    Math.max(0, (now.getTime() - snapshot.startedAt.getTime()) / 1000),
  ]]);
  family("dimse_associations_active", "gauge", "Associations in progress.", [[
    {},
    snapshot.associations.length,
  ]]);
  family(
    "dimse_associations_total",
    "counter",
    "Associations by result: requested, accepted, rejected, released, aborted.",
    (["requested", "accepted", "rejected", "released", "aborted"] as const).map((
      result,
    ) => [{ result }, totals.associations[result]]),
  );
  family(
    "dimse_messages_total",
    "counter",
    "DIMSE responses by service and status.",
    totals.messages.map((m) => [{ service: m.service, status: m.status }, m.count]),
  );
  family("dimse_bytes_received_total", "counter", "Bytes received on all associations.", [[
    {},
    totals.bytesReceived,
  ]]);
  family("dimse_bytes_sent_total", "counter", "Bytes sent on all associations.", [[
    {},
    totals.bytesSent,
  ]]);
  return lines.join("\n") + "\n";
}
