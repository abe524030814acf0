// Shine a Light in a browser: the subscriber's rules and the frames, pure (no MQTT, no DOM).
//
// The same rules as the Python agent (bus/ordering.py, bus/intake.py, led_agent/rendering.py)
// and the ESP32 (devices/micropython_esp32/ledlist.py), so a page shows what a Blinkt! shows:
// - an event with seq == last + 1 is applied; seq <= last is ignored; a larger seq is a gap:
//   applied, and the caller re-subscribes to the node's state topic (the broker re-sends the
//   retained snapshot); a message of a new epoch forgets last; events without seq apply as
//   they come; before the first snapshot events are applied and journaled, and the first
//   snapshot is taken whatever its seq with the newer journaled events replayed on top;
// - a snapshot with seq >= last (or a new epoch) is taken: pods still there keep their
//   place, vanished ones flash red three times (0.9 s) where they stood, then the pods
//   after them move up;
// - pending pods are dimmed to 25 %, unready ones pulse, terminating ones blink at 2 Hz;
//   with more pods than LEDs the last LED alternates with white; a node whose watcher is
//   offline or degraded breathes 10 % -> 40 % over 4 s (stale);
// - bad input (not UTF-8, not JSON, wrong types, unknown action or v, over 64 KiB, another
//   node than the topic's, an unknown status) is counted by kind and changes nothing.
// Time is milliseconds, passed in. Colours are "rrggbb". Loaded as a classic script (it
// defines window.ShineALight) so the page also works from file://; Node can require() it.
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.ShineALight = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const DEFAULT_COLOR = "0000ff", RED = "ff0000", WHITE = "ffffff", DARK = "000000";
  const FLASH_HALF_MS = 150, FLASH_MS = 6 * FLASH_HALF_MS, BLINK_PERIOD_MS = 500, OVERFLOW_PERIOD_MS = 1000;
  const PENDING_LEVEL = 0.25, PULSE_PERIOD_MS = 2000, PULSE_STEPS = 8, PULSE_FLOOR = 0.25;
  const STALE_PERIOD_MS = 4000, STALE_STEPS = 4, STALE_FLOOR = 0.1, STALE_TOP = 0.4;
  const MAX_PAYLOAD = 64 * 1024, JOURNAL_LIMIT = 1024, RESYNC_RETRY_MS = 2000;
  const ACTIONS = ["add", "update", "remove"], STATES = ["pending", "ready", "unready", "terminating"];
  const STATUSES = { online: false, offline: true, degraded: true, "": false }; // -> stale

  class BadInput extends Error {
    constructor(kind, detail) {
      super(kind + ": " + detail);
      this.kind = kind;
    }
  }

  // -- decoding ---------------------------------------------------------------------------

  function normalizeColor(value) {
    if (typeof value !== "string") return null;
    let text = value.trim().toLowerCase();
    if (text.startsWith("#")) text = text.slice(1);
    if (!/^([0-9a-f]{3}|[0-9a-f]{6})$/.test(text)) return null;
    return text.length === 6 ? text : [...text].map((c) => c + c).join("");
  }

  const utf8 = new TextDecoder("utf-8", { fatal: true });

  function decode(payload) {
    if (payload.length > MAX_PAYLOAD) throw new BadInput("oversized", payload.length + " bytes");
    let text, data;
    try {
      text = utf8.decode(payload);
    } catch (e) {
      throw new BadInput("not_utf8", "payload is not UTF-8");
    }
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new BadInput("not_json", text.slice(0, 40));
    }
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      throw new BadInput("not_object", "expected a JSON object");
    }
    const version = "v" in data ? data.v : 1;
    if (version !== 1) throw new BadInput("unknown_version", "v=" + JSON.stringify(version));
    return data;
  }

  function text(data, name, required) {
    const value = data[name];
    if ((value === undefined || value === null) && !required) return null;
    if (typeof value !== "string" || value.length === 0) throw new BadInput("invalid", name + ": expected a non-empty string");
    return value;
  }

  function seqOf(data, required) {
    const value = data.seq;
    if ((value === undefined || value === null) && !required) return null;
    if (!Number.isInteger(value) || value < 0) throw new BadInput("invalid", "seq: expected a whole number >= 0");
    return value;
  }

  function parsePod(data) {
    if (data === null || typeof data !== "object" || Array.isArray(data)) throw new BadInput("invalid", "pods: expected objects");
    const name = text(data, "pod", true), namespace = text(data, "namespace"), uid = text(data, "uid");
    const state = data.state === undefined ? null : data.state;
    if (state !== null && !STATES.includes(state)) throw new BadInput("invalid", "state: " + JSON.stringify(state));
    if (data.ts !== undefined && data.ts !== null && typeof data.ts !== "string") throw new BadInput("invalid", "ts: expected a string");
    const key = uid || (namespace ? namespace + "/" + name : name);
    return { key, pod: name, color: normalizeColor(data.color), state };
  }

  function parseEvent(payload) {
    const data = decode(payload);
    if (typeof data.action !== "string" || !ACTIONS.includes(data.action)) {
      throw new BadInput("unknown_action", "action=" + JSON.stringify(data.action));
    }
    const pod = parsePod(data);
    return { action: data.action, pod, seq: seqOf(data), epoch: text(data, "epoch"), node: text(data, "node") };
  }

  function parseSnapshot(payload) {
    const data = decode(payload);
    const pods = data.pods === undefined ? [] : data.pods;
    if (!Array.isArray(pods)) throw new BadInput("invalid", "pods: expected a list");
    if (data.ts !== undefined && data.ts !== null && typeof data.ts !== "string") throw new BadInput("invalid", "ts: expected a string");
    return { node: text(data, "node", true), seq: seqOf(data, true), epoch: text(data, "epoch"), pods: pods.map(parsePod) };
  }

  // -- colours ----------------------------------------------------------------------------

  // Round half to even, as Python's round(): the frames match the agent's digit for digit.
  function roundHalfEven(x) {
    const floor = Math.floor(x), rest = x - floor;
    if (rest > 0.5) return floor + 1;
    if (rest < 0.5) return floor;
    return floor % 2 === 0 ? floor : floor + 1;
  }

  function scale(color, level) {
    let out = "";
    for (let i = 0; i < 6; i += 2) out += roundHalfEven(parseInt(color.slice(i, i + 2), 16) * level).toString(16).padStart(2, "0");
    return out;
  }

  function triangle(nowMs, period, steps) {
    const phase = (nowMs % period) / period;
    return roundHalfEven((1 - Math.abs(2 * phase - 1)) * (steps - 1)) / (steps - 1);
  }

  function podColor(pod, nowMs) {
    const color = pod.color || DEFAULT_COLOR;
    if (pod.state === "pending") return scale(color, PENDING_LEVEL);
    if (pod.state === "unready") return scale(color, PULSE_FLOOR + (1 - PULSE_FLOOR) * triangle(nowMs, PULSE_PERIOD_MS, PULSE_STEPS));
    if (pod.state === "terminating" && nowMs % BLINK_PERIOD_MS >= BLINK_PERIOD_MS / 2) return DARK;
    return color;
  }

  // -- one node ---------------------------------------------------------------------------

  // The ordered pods of one node, with their removal flashes ("ghosts") in place. `slots`
  // holds null for "the next pod of the list" and a start time for a ghost; there are always
  // as many null slots as pods.
  class NodeView {
    constructor(node) {
      this.node = node;
      this.pods = new Map(); // key -> pod, in the node's order
      this.slots = [];
      this.last = null;
      this.epoch = null;
      this.synced = false;
      this.journal = [];
      this.stale = false;
      this.resyncAt = null;
    }

    // An event; returns true when the caller should resubscribe to the state topic.
    applyEvent(event, nowMs) {
      if (event.node !== null && event.node !== this.node) throw new BadInput("wrong_node", "event for node " + event.node);
      const verdict = this.judge(event.seq, event.epoch);
      if (verdict === "duplicate") return false;
      if (event.seq !== null) {
        this.last = event.seq;
        if (!this.synced) {
          this.journal.push(event);
          if (this.journal.length > JOURNAL_LIMIT) this.journal.shift();
        }
      }
      if (event.epoch !== null) this.epoch = event.epoch;
      const removed = this.mutate(event.action, event.pod);
      if (removed >= 0) this.ghost(removed, nowMs);
      this.fit();
      if (verdict !== "gap" || (this.resyncAt !== null && nowMs - this.resyncAt < RESYNC_RETRY_MS)) return false;
      this.resyncAt = nowMs;
      return true;
    }

    judge(seq, epoch) {
      if (seq === null) return "unsequenced";
      if (this.last === null) return "applied";
      if (epoch !== null && epoch !== this.epoch) return "new_epoch";
      if (seq === this.last + 1) return "applied";
      return seq <= this.last ? "duplicate" : "gap";
    }

    // Apply to the list (idempotent); the old index of a removed pod, else -1.
    mutate(action, pod) {
      const keys = [...this.pods.keys()], index = keys.indexOf(pod.key);
      if (action === "remove") {
        if (index >= 0) this.pods.delete(pod.key);
        return index;
      }
      this.pods.set(pod.key, pod); // a known pod keeps its place
      return -1;
    }

    applySnapshot(snapshot, nowMs) {
      if (snapshot.node !== this.node) throw new BadInput("wrong_node", "snapshot of node " + snapshot.node);
      this.resyncAt = null;
      const newEpoch = snapshot.epoch !== null && snapshot.epoch !== this.epoch;
      if (this.synced && !newEpoch && this.last !== null && snapshot.seq < this.last) return false;
      const before = [...this.pods.keys()];
      this.pods = new Map();
      for (const pod of snapshot.pods) if (!this.pods.has(pod.key)) this.pods.set(pod.key, pod);
      this.last = snapshot.seq;
      if (snapshot.epoch !== null) this.epoch = snapshot.epoch;
      if (!this.synced) this.replay(snapshot.seq);
      const live = this.liveSlots();
      before.forEach((key, index) => {
        if (!this.pods.has(key) && index < live.length) this.slots[live[index]] = nowMs;
      });
      this.fit();
      return true;
    }

    replay(seq) {
      this.synced = true;
      for (const event of this.journal) {
        if (event.seq > seq && (event.epoch === null || event.epoch === this.epoch)) {
          this.mutate(event.action, event.pod);
          this.last = event.seq;
        }
      }
      this.journal = [];
    }

    applyStatus(status) {
      if (!(status in STATUSES)) throw new BadInput("bad_status", JSON.stringify(status.slice(0, 40)));
      this.stale = STATUSES[status];
    }

    liveSlots() {
      const live = [];
      this.slots.forEach((slot, i) => slot === null && live.push(i));
      return live;
    }

    ghost(index, nowMs) {
      const live = this.liveSlots();
      if (index < live.length) this.slots[live[index]] = nowMs;
    }

    fit() {
      const missing = this.pods.size - this.liveSlots().length;
      for (let i = 0; i < missing; i++) this.slots.push(null);
    }

    // Exactly `leds` colours at nowMs (and forget finished flashes).
    frame(nowMs, leds) {
      this.slots = this.slots.filter((s) => s === null || nowMs < s + FLASH_MS);
      const pods = [...this.pods.values()], colors = [];
      let shown = 0;
      for (const slot of this.slots) {
        if (slot !== null) colors.push(Math.floor((nowMs - slot) / FLASH_HALF_MS) % 2 === 0 ? RED : DARK);
        else if (shown < pods.length) colors.push(podColor(pods[shown++], nowMs));
      }
      while (shown < pods.length) colors.push(podColor(pods[shown++], nowMs));
      if (colors.length > leds && nowMs % OVERFLOW_PERIOD_MS >= OVERFLOW_PERIOD_MS / 2) colors[leds - 1] = WHITE;
      const frame = colors.slice(0, leds);
      while (frame.length < leds) frame.push(DARK);
      if (!this.stale) return frame;
      const level = STALE_FLOOR + (STALE_TOP - STALE_FLOOR) * triangle(nowMs, STALE_PERIOD_MS, STALE_STEPS);
      return frame.map((c) => scale(c, level));
    }
  }

  // -- every node of the bus --------------------------------------------------------------

  // Topics in, node views out: what the page (or any other JS subscriber) feeds its messages to.
  class Board {
    constructor(prefix) {
      this.prefix = prefix || "";
      this.nodes = new Map();
      this.bad = {};
    }

    // `payload` a Uint8Array; returns the node name to resync, or null.
    take(topic, payload, nowMs) {
      const parts = topic.startsWith(this.prefix) ? topic.slice(this.prefix.length).split("/") : [];
      if (parts.length !== 3 || parts[0] !== "nodes" || !["pods", "state", "status"].includes(parts[2])) return null;
      const [, level, kind] = parts;
      const node = level.replace(/_/g, "."); // a node name's dots are written '_' in topics (docs/protocol.md)
      try {
        if (kind === "pods") return this.view(node).applyEvent(parseEvent(payload), nowMs) ? node : null;
        if (kind === "state" && payload.length === 0) this.nodes.delete(node); // a node that left
        else if (kind === "state") this.view(node).applySnapshot(parseSnapshot(payload), nowMs);
        else if (payload.length > 0 || this.nodes.has(node)) this.view(node).applyStatus(utf8.decode(payload));
      } catch (e) {
        if (!(e instanceof BadInput) && !(e instanceof TypeError)) throw e;
        const kindOf = e instanceof BadInput ? e.kind : "not_utf8";
        this.bad[kindOf] = (this.bad[kindOf] || 0) + 1;
      }
      return null;
    }

    view(node) {
      if (!this.nodes.has(node)) this.nodes.set(node, new NodeView(node));
      return this.nodes.get(node);
    }

    frames(nowMs, leds) {
      const out = {};
      for (const node of [...this.nodes.keys()].sort()) out[node] = this.nodes.get(node).frame(nowMs, leds);
      return out;
    }
  }

  return { Board, NodeView, BadInput, normalizeColor, parseEvent, parseSnapshot, scale, DARK, RED, WHITE };
});
