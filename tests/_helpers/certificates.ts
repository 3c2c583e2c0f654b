// A throwaway CA and server certificate for TLS tests, made with openssl.

/** PEM texts of a test CA, and of a certificate for localhost and 127.0.0.1 it signed. */
export interface Certificates {
  /** The CA certificate. */
  ca: string;
  /** The server certificate. */
  cert: string;
  /** The server certificate's private key. */
  key: string;
}

/** A CA and a server certificate for localhost and 127.0.0.1, or null without openssl. */
export async function makeCertificates(): Promise<Certificates | null> {
  const dir = await Deno.makeTempDir();
  const run = async (args: string[]) => {
    const out = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "null",
    })
      .output();
    if (!out.success) throw new Error(`openssl ${args[0]} failed`);
  };
  try {
    await run(
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem"]
        .concat(["-days", "1", "-subj", "/CN=dimse test CA"]),
    );
    await run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "req.csr"]
      .concat(["-subj", "/CN=localhost"]));
    await Deno.writeTextFile(
      `${dir}/ext.cnf`,
      "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    );
    await run(["x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key"]
      .concat(["-CAcreateserial", "-out", "cert.pem", "-days", "1", "-extfile", "ext.cnf"]));
    return {
      ca: await Deno.readTextFile(`${dir}/ca.pem`),
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } catch {
    return null;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

let shared: Promise<Certificates | null> | undefined;

/** The test certificates, made once per process (null without openssl). */
export function certificates(): Promise<Certificates | null> {
  shared ??= makeCertificates();
  return shared;
}
