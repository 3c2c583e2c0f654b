import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import { Scp } from "../../src/scp.ts";
import type { Service } from "../../src/services/service.ts";
import { verification } from "../../src/services/verification.ts";
import { TransferSyntax } from "../../src/ul/uids.ts";
import { type Certificates, certificates } from "../_helpers/certificates.ts";

const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";

/** An SCP on an ephemeral port of 127.0.0.1 serving TLS with the test certificate. */
async function listeningTlsScp(certs: Certificates, services: Service[]): Promise<Scp> {
  const scp = new Scp({
    aeTitle: "ANY-SCP",
    port: 0,
    hostname: "127.0.0.1",
    services,
    tls: { cert: certs.cert, key: certs.key },
  });
  await scp.listen();
  return scp;
}

/** Reads TCP_NODELAY of a socket of this process with getsockopt(2) through libc. */
type NoDelayProbe = (fd: number) => number;

function openNoDelayProbe(): { probe: NoDelayProbe; close: () => void } | null {
  if (Deno.build.os !== "linux") return null;
  try {
    const libc = Deno.dlopen("libc.so.6", {
      getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
    });
    return {
      probe: (fd) => {
        const value = new Int32Array(1);
        const length = new Uint32Array([4]);
        // IPPROTO_TCP = 6, TCP_NODELAY = 1 (linux/tcp.h).
        const rc = libc.symbols.getsockopt(fd, 6, 1, value, length);
        if (rc !== 0) throw new Error(`getsockopt failed on fd ${fd}`);
        return value[0];
      },
      close: () => libc.close(),
    };
  } catch {
    return null;
  }
}

/**
 * TCP_NODELAY of this process's sockets whose local or remote port is `port` (IPv4), keyed
 * "local" (the accepted side) and "remote" (the connecting side).
 */
function noDelayOfConnections(port: number, probe: NoDelayProbe): Map<string, number[]> {
  const inodes = new Map<string, "local" | "remote">();
  const portOf = (address: string) => parseInt(address.split(":")[1], 16);
  for (const line of Deno.readTextFileSync("/proc/net/tcp").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || fields[3] !== "01") continue; // ESTABLISHED only
    if (portOf(fields[1]) === port) inodes.set(fields[9], "local");
    else if (portOf(fields[2]) === port) inodes.set(fields[9], "remote");
  }
  const result = new Map<string, number[]>([["local", []], ["remote", []]]);
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    let target = "";
    try {
      target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
    } catch {
      continue;
    }
    const side = inodes.get(/^socket:\[(\d+)\]$/.exec(target)?.[1] ?? "");
    if (side) result.get(side)!.push(probe(Number(entry.name)));
  }
  return result;
}

Deno.test("TLS associations run with TCP_NODELAY on the requestor's and the acceptor's socket (needs openssl, Linux)", async (t) => {
  const certs = await certificates();
  const probe = openNoDelayProbe();
  if (!certs || !probe) {
    console.warn("SKIPPED: needs openssl for a test certificate and Linux libc for getsockopt");
    await t.step({ name: "skipped: no openssl or no libc", ignore: true, fn: () => {} });
    return;
  }
  const scp = await listeningTlsScp(certs, [verification()]);
  try {
    const assoc = await Association.connect({
      host: "127.0.0.1",
      port: scp.port,
      tls: { caCerts: [certs.ca], serverName: "localhost" },
    });
    assert.equal(await assoc.echo(), 0);
    const seen = noDelayOfConnections(scp.port, probe.probe);
    assert.deepEqual(seen.get("local"), [1], "acceptor socket has TCP_NODELAY");
    assert.deepEqual(seen.get("remote"), [1], "requestor socket has TCP_NODELAY");
    await assoc.release();
  } finally {
    probe.close();
    await scp.close();
  }
});

/** A position-weighted sum of bytes, fed piece by piece (`at` is the piece's offset). */
function checksum(bytes: Uint8Array, at: number, sum: number): number {
  for (let i = 0; i < bytes.length; i++) sum = (sum + bytes[i] * ((at + i) % 65521 + 1)) >>> 0;
  return sum;
}

Deno.test("a C-STORE of 8 MiB over TLS reaches the SCP byte for byte and the association releases (needs openssl)", async (t) => {
  const certs = await certificates();
  if (!certs) {
    console.warn("SKIPPED: openssl not available to make a TLS test certificate");
    await t.step({ name: "skipped: no openssl", ignore: true, fn: () => {} });
    return;
  }
  const received: { length: number; sum: number }[] = [];
  const sink: Service = {
    name: "storage",
    sopClasses: [{
      abstractSyntax: CT_IMAGE_STORAGE,
      transferSyntaxes: [TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN],
    }],
    async handle(request) {
      let length = 0;
      let sum = 0;
      for await (const chunk of request.dataSet!) {
        sum = checksum(chunk, length, sum);
        length += chunk.length;
      }
      received.push({ length, sum });
      return { status: 0 };
    },
  };
  const scp = await listeningTlsScp(certs, [sink]);
  try {
    const assoc = await Association.connect({
      host: "localhost",
      port: scp.port,
      tls: { caCerts: [certs.ca] },
      presentationContexts: [{
        abstractSyntax: CT_IMAGE_STORAGE,
        transferSyntaxes: [TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN],
      }],
    });
    const dataSet = new Uint8Array(8 << 20);
    for (let i = 0; i < dataSet.length; i++) dataSet[i] = (i * 31) & 0xff;
    for (let n = 0; n < 2; n++) {
      const response = await assoc.request({
        commandField: 0x0001,
        affectedSopClassUid: CT_IMAGE_STORAGE,
        affectedSopInstanceUid: `1.2.3.${n}`,
        priority: 0,
        commandDataSetType: 0x0000,
      }, { dataSet });
      assert.equal(response.command.status, 0);
    }
    await assoc.release();
    const expected = { length: dataSet.length, sum: checksum(dataSet, 0, 0) };
    assert.deepEqual(received, [expected, expected]);
  } finally {
    await scp.close();
  }
});

Deno.test("an SCP given a TLS certificate and key that cannot be used fails to listen", async () => {
  const scp = new Scp({
    aeTitle: "ANY-SCP",
    port: 0,
    hostname: "127.0.0.1",
    services: [verification()],
    tls: { cert: "not a certificate", key: "not a key" },
  });
  await assert.rejects(async () => await scp.listen());
  assert.equal(scp.listening, false);
  await scp.close();
});

Deno.test("a requestor verifying a server name its certificate does not carry is refused; the right name is accepted (needs openssl)", async (t) => {
  const certs = await certificates();
  if (!certs) {
    console.warn("SKIPPED: openssl not available to make a TLS test certificate");
    await t.step({ name: "skipped: no openssl", ignore: true, fn: () => {} });
    return;
  }
  const scp = await listeningTlsScp(certs, [verification()]);
  try {
    await assert.rejects(
      Association.connect({
        host: "127.0.0.1",
        port: scp.port,
        tls: { caCerts: [certs.ca], serverName: "not-this-host.example" },
      }),
    );
    const assoc = await Association.connect({
      host: "127.0.0.1",
      port: scp.port,
      tls: { caCerts: [certs.ca], serverName: "localhost" },
    });
    assert.equal(await assoc.echo(), 0);
    await assoc.release();
  } finally {
    await scp.close();
  }
});
