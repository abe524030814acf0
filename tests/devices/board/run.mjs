// Run Python under the real MicroPython (its official WebAssembly port) in Node.js.
//
//   node run.mjs JOB.json
//
// JOB: {"heapsize": bytes, "files": {"/path.py": "source", ...}, "chunks": ["python", ...]}.
// The files are written into MicroPython's file system ("/" is the current directory,
// "/lib" is on sys.path), then each chunk runs in turn. Between chunks control returns to
// JavaScript, which is where this port collects garbage (so gc.mem_alloc() read at the
// start of a chunk counts live objects only). Output lines go to stdout as they come; an
// uncaught Python exception is printed to stderr and exits 1.
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript/micropython.mjs";

const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const mp = await loadMicroPython({
  heapsize: job.heapsize ?? 1024 * 1024,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
for (const [path, source] of Object.entries(job.files ?? {})) {
  mp.FS.mkdirTree(dirname(path));
  mp.FS.writeFile(path, source);
}
try {
  for (const chunk of job.chunks) {
    mp.runPython(chunk);
  }
} catch (error) {
  process.stderr.write(String(error.message ?? error) + "\n");
  process.exitCode = 1;
}
