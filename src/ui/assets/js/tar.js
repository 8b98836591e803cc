// Reads meta.json out of a snapshot archive (gzip of a tar) in the browser, to name what a
// restore would bring before anything is sent. Reads at most MAX_SCAN bytes.

const MAX_SCAN = 64 * 1024 * 1024;

function octal(bytes) {
  const s = new TextDecoder().decode(bytes).replace(/\0.*$/, '').trim();
  return s ? parseInt(s, 8) : 0;
}

/** The parsed meta.json of a Nomad snapshot archive `blob`; rejects with a readable reason. */
export async function readMeta(blob) {
  if (typeof DecompressionStream === 'undefined') throw new Error('this browser cannot decompress gzip');
  const reader = blob.stream().pipeThrough(new DecompressionStream('gzip')).getReader();
  let buf = new Uint8Array(0);
  let seen = 0;
  const more = async () => {
    const { value, done } = await reader.read();
    if (done) return false;
    const next = new Uint8Array(buf.length + value.length);
    next.set(buf);
    next.set(value, buf.length);
    buf = next;
    seen += value.length;
    return true;
  };
  try {
    for (;;) {
      while (buf.length < 512) if (!(await more())) throw new Error('not a snapshot archive: no meta.json');
      const header = buf.subarray(0, 512);
      if (header.every((b) => b === 0)) throw new Error('not a snapshot archive: no meta.json');
      const name = new TextDecoder().decode(header.subarray(0, 100)).replace(/\0.*$/s, '');
      const size = octal(header.subarray(124, 136));
      const padded = Math.ceil(size / 512) * 512;
      if (name === 'meta.json') {
        while (buf.length < 512 + size) if (!(await more())) throw new Error('archive ends inside meta.json');
        return JSON.parse(new TextDecoder().decode(buf.subarray(512, 512 + size)));
      }
      // Skip this entry without keeping it.
      let skip = 512 + padded;
      while (skip > 0) {
        if (buf.length === 0 && !(await more())) throw new Error('not a snapshot archive: no meta.json');
        const n = Math.min(skip, buf.length);
        buf = buf.subarray(n);
        skip -= n;
      }
      if (seen > MAX_SCAN) throw new Error('no meta.json in the first 64 MiB');
    }
  } catch (e) {
    if (e instanceof TypeError) throw new Error(`not a gzip archive (${e.message})`);
    throw e;
  } finally {
    reader.cancel().catch(() => {});
  }
}
