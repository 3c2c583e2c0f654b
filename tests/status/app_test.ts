import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import { Scp } from "../../src/scp.ts";
import { verification } from "../../src/services/verification.ts";
import { createStatusApp } from "../../src/status/app.ts";
import type { StatusJson } from "../../src/status/json.ts";
import { scpStatusSource } from "../../src/status/scp_source.ts";
import { serveStatus } from "../../src/status/serve.ts";

async function waitFor(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function getJson(url: string): Promise<{ status: number; body: unknown; type: string }> {
  const response = await fetch(url);
  return {
    status: response.status,
    type: response.headers.get("content-type") ?? "",
    body: await response.json(),
  };
}

async function getStatus(base: string): Promise<StatusJson> {
  const { status, body } = await getJson(`${base}status`);
  assert.equal(status, 200);
  return body as StatusJson;
}

function metricValue(text: string, sample: string): number {
  const line = text.split("\n").find((l) => l.startsWith(sample + " "));
  assert.ok(line, `metrics have a sample ${sample}`);
  return Number(line.slice(sample.length + 1));
}

Deno.test("status endpoint reports a live association and its C-ECHO during and after it, and 503 once closed", async () => {
  const scp = new Scp({
    aeTitle: "STATUS-SCP",
    port: 0,
    hostname: "127.0.0.1",
    services: [verification()],
  });
  const source = scpStatusSource(scp, { version: "9.8.7" });
  await scp.listen();
  const server = await serveStatus(createStatusApp(source), { port: 0, hostname: "127.0.0.1" });
  const base = server.url;
  let association: Association | undefined;
  try {
    const health = await getJson(`${base}health`);
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: "ok" });
    assert.match(health.type, /application\/json/);

    const idle = await getStatus(base);
    assert.equal(idle.version, "9.8.7");
    assert.equal(idle.aeTitle, "STATUS-SCP");
    assert.deepEqual(idle.listening, { hostname: "127.0.0.1", port: scp.port });
    assert.equal(idle.accepting, true);
    assert.deepEqual(idle.associations, []);
    assert.equal(typeof idle.uptimeSeconds, "number");
    assert.ok(!Number.isNaN(Date.parse(idle.startedAt)));

    association = await Association.connect({
      host: "127.0.0.1",
      port: scp.port,
      callingAeTitle: "STATUS-TEST",
      calledAeTitle: "STATUS-SCP",
    });
    assert.equal(await association.echo(), 0x0000);
    await waitFor("the C-ECHO-RSP to be counted", async () => {
      const s = await getStatus(base);
      return s.associations.length === 1 && s.associations[0].messages.sent === 1;
    });

    const during = await getStatus(base);
    assert.equal(during.associations.length, 1);
    const live = during.associations[0];
    assert.equal(live.callingAeTitle, "STATUS-TEST");
    assert.equal(live.calledAeTitle, "STATUS-SCP");
    assert.equal(live.address.hostname, "127.0.0.1");
    assert.ok(live.address.port > 0);
    assert.equal(live.state, "Sta6");
    assert.ok(!Number.isNaN(Date.parse(live.started)));
    assert.ok(live.acceptedContexts.length >= 1);
    assert.equal(live.acceptedContexts[0].abstractSyntax, "1.2.840.10008.1.1");
    assert.deepEqual(live.messages, { received: 1, sent: 1 });
    assert.ok(live.bytes.received > 0 && live.bytes.sent > 0);
    assert.equal(during.totals.associations.accepted, 1);
    assert.equal(during.totals.associations.requested, 1);
    assert.deepEqual(during.totals.messages, [{
      service: "verification",
      status: "0000",
      count: 1,
    }]);

    const metricsResponse = await fetch(`${base}metrics`);
    assert.equal(metricsResponse.status, 200);
    assert.match(
      metricsResponse.headers.get("content-type") ?? "",
      /^text\/plain; version=0\.0\.4/,
    );
    const metrics = await metricsResponse.text();
    assert.equal(metricValue(metrics, "dimse_associations_active"), 1);
    assert.equal(metricValue(metrics, 'dimse_associations_total{result="accepted"}'), 1);
    assert.equal(
      metricValue(metrics, 'dimse_messages_total{service="verification",status="0000"}'),
      1,
    );
    assert.ok(metricValue(metrics, "dimse_bytes_received_total") > 0);
    assert.ok(metricValue(metrics, "dimse_bytes_sent_total") > 0);
    assert.equal(metricValue(metrics, "dimse_up"), 1);
    for (const family of ["dimse_associations_active", "dimse_messages_total"]) {
      assert.match(metrics, new RegExp(`^# HELP ${family} .+$`, "m"));
      assert.match(metrics, new RegExp(`^# TYPE ${family} (gauge|counter)$`, "m"));
    }

    await association.release();
    association = undefined;
    await waitFor("the association to end", async () => {
      return (await getStatus(base)).associations.length === 0;
    });
    const after = await getStatus(base);
    assert.equal(after.totals.associations.released, 1);
    assert.equal(after.totals.associations.aborted, 0);
    assert.ok(after.totals.bytes.received >= live.bytes.received);
    assert.ok(after.totals.bytes.sent >= live.bytes.sent);
    const afterMetrics = await (await fetch(`${base}metrics`)).text();
    assert.equal(metricValue(afterMetrics, "dimse_associations_active"), 0);
    assert.equal(metricValue(afterMetrics, 'dimse_associations_total{result="released"}'), 1);

    await scp.close({ timeoutMs: 1000 });
    const down = await getJson(`${base}health`);
    assert.equal(down.status, 503);
    assert.deepEqual(down.body, { status: "unavailable" });
    assert.equal((await getStatus(base)).accepting, false);
  } finally {
    await association?.abort();
    await scp.close({ timeoutMs: 1000 });
    await server.close();
  }
});

Deno.test("GET / serves a self-contained HTML page that polls /status", async () => {
  const scp = new Scp({ aeTitle: "PAGE", port: 0, hostname: "127.0.0.1", services: [] });
  const server = await serveStatus(
    createStatusApp(scpStatusSource(scp, { version: "1" })),
    { port: 0 },
  );
  try {
    const response = await fetch(server.url);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
    const html = await response.text();
    assert.match(html, /^<!doctype html>/i);
    assert.match(html, /fetch\("status"/);
    assert.doesNotMatch(html, /<(script|link)[^>]+(src|href)=/i);
    const health = await fetch(`${server.url}health`);
    assert.equal(health.status, 503, "an SCP that does not listen is not healthy");
    await health.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("metrics escape quotes and backslashes in label values from peer-chosen names", async () => {
  const scp = new Scp({
    aeTitle: 'A"B\\C',
    port: 0,
    hostname: "127.0.0.1",
    services: [verification()],
  });
  const server = await serveStatus(
    createStatusApp(scpStatusSource(scp, { version: "1" })),
    { port: 0 },
  );
  try {
    const text = await (await fetch(`${server.url}metrics`)).text();
    assert.match(text, /ae_title="A\\"B\\\\C"/);
  } finally {
    await server.close();
  }
});
