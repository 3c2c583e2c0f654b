// A temporary folder that lives as long as one piece of a test.

/** Runs `body` with a new temporary folder (`options` as Deno.makeTempDir takes them); removes it after. */
export async function withTempDir<T>(
  body: (dir: string) => Promise<T>,
  options: Deno.MakeTempOptions = {},
): Promise<T> {
  const dir = await Deno.makeTempDir(options);
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
