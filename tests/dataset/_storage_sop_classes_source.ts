// Reads DCMTK's own list of Storage SOP Classes (dcmAllStorageSOPClassUIDs in libdcmdata, with
// names from dcmFindNameOfUID) through Deno FFI. Used to generate
// src/dataset/storage_sop_classes.ts and to check it against the installed DCMTK.

/** One Storage SOP Class as DCMTK knows it. */
export interface StorageSopClassSource {
  uid: string;
  name: string;
}

/** The path of libdcmdata, found through the dynamic linker's cache; undefined when absent. */
export function findLibDcmdata(): string | undefined {
  try {
    const out = new Deno.Command("ldconfig", { args: ["-p"], stdout: "piped", stderr: "null" })
      .outputSync();
    const line = new TextDecoder().decode(out.stdout).split("\n").find((l) =>
      /libdcmdata\.so(\.\d+)*\s/.test(l)
    );
    return line?.split("=>")[1]?.trim();
  } catch {
    return undefined;
  }
}

/** DCMTK's Storage SOP Classes in its own order, and the DCMTK version string. */
export function readDcmtkStorageSopClasses(
  path: string,
): { version: string; classes: StorageSopClassSource[] } {
  const lib = Deno.dlopen(
    path,
    {
      dcmAllStorageSOPClassUIDs: { type: "pointer" },
      numberOfDcmAllStorageSOPClassUIDs: { type: "i32" },
      _Z16dcmFindNameOfUIDPKcS0_: { parameters: ["buffer", "buffer"], result: "pointer" },
    } as const,
  );
  try {
    const count = lib.symbols.numberOfDcmAllStorageSOPClassUIDs as unknown as number;
    const table = new Deno.UnsafePointerView(
      lib.symbols.dcmAllStorageSOPClassUIDs as unknown as Deno.PointerObject,
    );
    const classes: StorageSopClassSource[] = [];
    const none = new TextEncoder().encode("\0");
    for (let i = 0; i < count; i++) {
      const uid = Deno.UnsafePointerView.getCString(table.getPointer(i * 8)!);
      const namePointer = lib.symbols._Z16dcmFindNameOfUIDPKcS0_(
        new TextEncoder().encode(uid + "\0"),
        none,
      );
      const name = namePointer ? Deno.UnsafePointerView.getCString(namePointer) : "";
      classes.push({ uid, name: name || uid });
    }
    // libdcmdata.so.17.3.6.7: the soname number, then the DCMTK version.
    const real = Deno.realPathSync(path);
    const version = /\.so\.\d+\.(\d+\.\d+\.\d+)$/.exec(real)?.[1] ?? "unknown";
    return { version, classes };
  } finally {
    lib.close();
  }
}
