// Feeds devices/browser/lights.js the streams of tests/devices/test_lights_js.py under Node.js.
//   node lights_driver.js STREAMS.json   ->   one JSON line: per stream, the frames at its probes
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { Board } = require(path.join(__dirname, "..", "..", "devices", "browser", "lights.js"));

const streams = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const results = streams.map(({ node, leds, messages, probes }) => {
  const board = new Board("");
  const resyncs = messages.map(([at, topic, payload]) => board.take(topic, Buffer.from(payload, "utf8"), at));
  const view = board.nodes.get(node);
  const frames = probes.map((at) => (view ? view.frame(at, leds) : null));
  return { frames, resyncs, keys: view ? [...view.pods.keys()] : [], bad: board.bad };
});
process.stdout.write(JSON.stringify(results) + "\n");
