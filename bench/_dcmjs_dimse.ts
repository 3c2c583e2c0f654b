/**
 * The ecosystem's line of the storage benchmark: dcmjs-dimse's own client and server, each in
 * its own Deno process, used as its README shows.
 *
 * - `deno run -A --no-lock bench/_dcmjs_dimse.ts server PORT DIR`: a Storage SCP accepting every
 *   proposed abstract syntax in Explicit or Implicit VR Little Endian; each received data set
 *   is written to `DIR/<SOP Instance UID>.dcm` with `Dataset.toFile` before the response.
 * - `deno run -A --no-lock bench/_dcmjs_dimse.ts client HOST PORT DIR`: one association carrying a
 *   C-STORE request per file of DIR; exits 0 when every one succeeded.
 *
 * @module
 */
// Loaded by a computed specifier so that the package stays out of the project's imports (and out of
// every other command's first run): only this benchmark line needs it.
const DCMJS_DIMSE = "npm:dcmjs-dimse@0.3.3";
// deno-lint-ignore no-explicit-any
const dimse: any = (await import(DCMJS_DIMSE)).default;

const { Client, Server, Scp } = dimse;
const { CEchoResponse, CStoreResponse } = dimse.responses;
const { CStoreRequest } = dimse.requests;
const { Status, PresentationContextResult, TransferSyntax } = dimse.constants;

type DimseAssociation = InstanceType<typeof dimse.association.Association>;
type DimseCStoreRequest = InstanceType<typeof CStoreRequest>;
type DimseCStoreResponse = InstanceType<typeof CStoreResponse>;
type DimseCEchoRequest = InstanceType<typeof dimse.requests.CEchoRequest>;
type DimseCEchoResponse = InstanceType<typeof CEchoResponse>;

let storeDir = ".";

/** The SCP: accepts everything uncompressed and stores each instance as a file. */
class StoreScp extends Scp {
  associationRequested(association: DimseAssociation): void {
    for (const c of association.getPresentationContexts()) {
      const context = association.getPresentationContext(c.id);
      const offered = context.getTransferSyntaxUids();
      const ts = [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian]
        .find((t) => offered.includes(t));
      if (ts === undefined) {
        context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      } else {
        context.setResult(PresentationContextResult.Accept, ts);
      }
    }
    this.sendAssociationAccept();
  }

  associationReleaseRequested(): void {
    this.sendAssociationReleaseResponse();
  }

  cEchoRequest(
    request: DimseCEchoRequest,
    callback: (response: DimseCEchoResponse) => void,
  ): void {
    const response = CEchoResponse.fromRequest(request);
    response.setStatus(Status.Success);
    callback(response);
  }

  cStoreRequest(
    request: DimseCStoreRequest,
    callback: (response: DimseCStoreResponse) => void,
  ): void {
    const response = CStoreResponse.fromRequest(request);
    const uid = String(request.getAffectedSopInstanceUid());
    request.getDataset()!.toFile(`${storeDir}/${uid}.dcm`, (error?: Error) => {
      response.setStatus(error ? Status.ProcessingFailure : Status.Success);
      callback(response);
    });
  }
}

async function server(port: number, dir: string): Promise<number> {
  storeDir = dir;
  await Deno.mkdir(dir, { recursive: true });
  const s = new Server(StoreScp);
  s.on("networkError", (e: Error) => console.error(`dcmjs-dimse server: ${e.message}`));
  s.listen(port);
  console.log(`listening on 127.0.0.1:${port}`);
  await new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGTERM", resolve);
    Deno.addSignalListener("SIGINT", resolve);
  });
  s.close();
  return 0;
}

async function client(host: string, port: number, dir: string): Promise<number> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) if (entry.isFile) names.push(entry.name);
  names.sort();
  const c = new Client();
  let ok = 0;
  let failed = 0;
  for (const name of names) {
    const request = new CStoreRequest(`${dir}/${name}`);
    request.on("response", (response: DimseCStoreResponse) => {
      if (response.getStatus() === Status.Success) ok++;
      else failed++;
    });
    c.addRequest(request);
  }
  const done = new Promise<void>((resolve, reject) => {
    c.on("closed", () => resolve());
    c.on("networkError", (e: Error) => reject(e));
  });
  c.send(host, port, "DCMJS-SCU", "DCMJS");
  await done;
  console.log(`stored ${ok} of ${names.length}; ${failed} failed`);
  return ok === names.length ? 0 : 1;
}

async function main(args: string[]): Promise<number> {
  dimse.log.setLevel("error");
  if (args[0] === "server" && args.length === 3) return await server(Number(args[1]), args[2]);
  if (args[0] === "client" && args.length === 4) {
    return await client(args[1], Number(args[2]), args[3]);
  }
  console.error("usage: _dcmjs_dimse.ts server PORT DIR | client HOST PORT DIR");
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
